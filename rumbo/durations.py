"""Durations as people write them in journeys: '90s', '15m', '1h', '3d', '2w', '1d12h'."""

from __future__ import annotations

import re

from rumbo.errors import DurationInvalid

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*-?\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$")


def parse_duration(text: object) -> float:
    """Seconds in a duration string; a leading '-' makes it negative (offsets before a date)."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise DurationInvalid(text)
    if isinstance(text, int | float):
        return float(text)
    if not _WHOLE.match(text):
        raise DurationInvalid(text)
    sign = -1.0 if text.strip().startswith("-") else 1.0
    return sign * sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest readable form of a number of seconds, e.g. 93600 -> '1d2h'."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    rest = abs(int(seconds))
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return sign + "".join(parts)
