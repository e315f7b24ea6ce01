"""Values read from a file turned into the JSON types a message field needs.

A CSV cell is always text, so `"42.50"` must become the number a journey compares (`properties.revenue >=
30`); JSON lines and Parquet carry their own types, which are kept unless the mapping asks for another.
Each converter takes a value that is present (the caller skips empty ones) and returns the converted value
or raises `NotConvertible` with the problem in words, without the value (the caller names it), so that the
import report can group the rows that failed the same way.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import orjson

from rumbo.ingest.timestamps import iso

Kind = Literal["keep", "string", "number", "integer", "boolean", "timestamp", "json"]
KINDS: Final = ("keep", "string", "number", "integer", "boolean", "timestamp", "json")
# How a timestamp is written, besides a strftime pattern such as "%d/%m/%Y %H:%M".
TIME_FORMATS: Final = ("iso", "epoch", "epoch_ms")

_TIMES_KEPT: Final = 4096
_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE: Final = frozenset({"true", "t", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0"})


class NotConvertible(ValueError):
    """A value cannot be converted; the message says why, without repeating the value."""


def _string(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise NotConvertible("is a boolean, not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _INTEGER.match(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            raise NotConvertible("is not a number (write decimals with a dot: 12.50)") from None
    else:
        raise NotConvertible(f"is a {type(value).__name__}, not a number")
    if not math.isfinite(number):
        raise NotConvertible("is not a finite number")
    return int(number) if isinstance(value, Decimal) and number.is_integer() else number


def _integer(value: Any) -> int:
    number = _number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise NotConvertible("is not a whole number")
        return int(number)
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise NotConvertible("is not a boolean (use true/false, yes/no or 1/0)")


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise NotConvertible("is not JSON") from None


def timestamp_converter(time_format: str, zone: dt.tzinfo) -> Callable[[Any], str]:
    """A converter to Segment's ISO 8601 UTC string; times without an offset are in `zone`.

    `time_format` is "iso" (ISO 8601, also with a space for the T), "epoch" or "epoch_ms" (numbers of
    seconds or milliseconds since 1970), or a strftime pattern. Native dates and times (JSON lines carry
    none, Parquet does) are taken as they are, whatever the format.
    """

    def aware(moment: dt.datetime) -> dt.datetime:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)

    def epoch(value: Any) -> float:
        seconds = float(_number(value))
        return seconds / 1000 if time_format == "epoch_ms" else seconds

    known: dict[str, str] = {}  # exports repeat their times (a date, a minute): parse each text once

    def cached(value: Any) -> str:
        if value.__class__ is not str:
            return convert(value)
        found = known.get(value)
        if found is None:
            if len(known) >= _TIMES_KEPT:
                known.clear()
            found = known[value] = convert(value)
        return found

    def convert(value: Any) -> str:
        if isinstance(value, dt.datetime):
            return iso(aware(value).timestamp())
        if isinstance(value, dt.date):
            return iso(aware(dt.datetime(value.year, value.month, value.day)).timestamp())
        try:
            if time_format in ("epoch", "epoch_ms") or (
                time_format == "iso" and isinstance(value, int | float) and not isinstance(value, bool)
            ):
                return iso(epoch(value))
            if not isinstance(value, str):
                raise NotConvertible(f"is a {type(value).__name__}, not a date-time")
            text = value.strip()
            if time_format == "iso":
                moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("z") else text)
            else:
                moment = dt.datetime.strptime(text, time_format)
            return iso(aware(moment).timestamp())
        except NotConvertible:
            raise
        except (ValueError, OverflowError, OSError):
            wanted = {
                "iso": "an ISO 8601 date-time such as 2026-11-23T10:00:00Z",
                "epoch": "seconds since 1970",
                "epoch_ms": "milliseconds since 1970",
            }.get(time_format, f"a date-time in the format {time_format!r}")
            raise NotConvertible(f"is not {wanted}") from None

    return cached


def converter(kind: Kind, time_format: str = "iso", zone: dt.tzinfo | None = None) -> Callable[[Any], Any]:
    """The function that converts a present value to `kind` ("keep" leaves it as read)."""
    if kind == "timestamp":
        return timestamp_converter(time_format, zone or dt.UTC)
    return {
        "keep": _keep,
        "string": _string,
        "number": _number,
        "integer": _integer,
        "boolean": _boolean,
        "json": _json,
    }[kind]


def _keep(value: Any) -> Any:
    if value.__class__ is str:
        return value
    # Parquet hands over dates, times and decimals, which JSON has no type for.
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def zone_named(name: str) -> dt.tzinfo:
    """The IANA time zone `name` (Europe/Madrid, UTC); raises ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Madrid or UTC") from None
