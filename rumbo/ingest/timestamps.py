"""Event time as Segment computes it: the client's time, corrected for the skew of the client's clock.

Segment's rule (its spec, "Timestamps"): `timestamp = receivedAt - (sentAt - originalTimestamp)`, where
`originalTimestamp` is the time the client gave the message (`timestamp`, or RudderStack's
`originalTimestamp`) and `sentAt` the client's clock when it sent the request (on the message, else on the
batch). A client clock that runs an hour fast shifts both of its times by the same hour, so the difference
is right and the server's `receivedAt` anchors it. Without `sentAt` the client's time is used as it is;
without any client time the event happened when it was received.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

_EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC).timestamp()
_LATEST: Final = datetime(2200, 1, 1, tzinfo=UTC).timestamp()


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 date-time string, or None when `value` is not one.

    A time without a zone is UTC, as Segment reads it. Years outside 1900-2199 are refused: no event
    happened then, and keeping times in that range keeps every clock-skew correction representable.
    """
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    except (ValueError, OverflowError):
        return None
    return seconds if _EARLIEST <= seconds < _LATEST else None


def event_time(original: float | None, sent_at: float | None, received_at: float) -> float:
    """The corrected event time (see the module docstring)."""
    if original is None:
        return received_at
    if sent_at is None:
        return original
    return received_at - (sent_at - original)


def iso(seconds: float) -> str:
    """An epoch time as the ISO 8601 UTC string Segment writes, with milliseconds: what
    `datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")` writes (with Z for +00:00),
    the date and time of day formatted once per second, since ingestion writes two of these per event and
    events come many to a second."""
    fraction, whole = math.modf(seconds)
    second, micros = int(whole), round(fraction * 1e6)  # rounded half to even, as datetime does
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:
        second, micros = second - 1, micros + 1_000_000
    return f"{_iso_second(second)}.{micros // 1000:03d}Z"


@lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).replace(tzinfo=None).isoformat()
