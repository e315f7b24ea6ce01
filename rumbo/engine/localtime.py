"""Local time in the customer's time zone: send windows, quiet hours, dates taken from traits.

All functions take `now` as epoch seconds and return epoch seconds, so the engine never reads a clock.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

from rumbo.journey.model import LocalWindow, QuietHours

_UTC = dt.UTC


@lru_cache(maxsize=1024)
def zone(name: str | None) -> dt.tzinfo:
    """The zone by IANA name; an unknown or missing name means UTC (the journey validator rejects bad names
    in documents, and profile traits from outside must never crash a step)."""
    if not name:
        return _UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return _UTC


def local(now: float, tz: str | None) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, zone(tz))


def _at(day: dt.date, minutes: int, tz: str | None) -> float:
    return dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=zone(tz)).timestamp()


def _inside(minute: int, start: int, end: int) -> bool:
    return start <= minute < end if start < end else minute >= start or minute < end


def next_window_start(now: float, tz: str | None, window: LocalWindow) -> float:
    """`now` if it is inside the window, else the next moment the window opens."""
    here = local(now, tz)
    minute = here.hour * 60 + here.minute
    if here.weekday() in window.days and _inside(minute, window.start, window.end):
        return now
    # A window that wraps midnight belongs to the day it opens on: 22:00–02:00 on Friday runs into Saturday.
    if window.start > window.end and minute < window.end and (here.weekday() - 1) % 7 in window.days:
        return now
    for days_ahead in range(8):
        day = here.date() + dt.timedelta(days=days_ahead)
        if day.weekday() in window.days:
            opens = _at(day, window.start, tz)
            if opens > now:
                return opens
    raise AssertionError("a window with at least one weekday always opens within 8 days")


def quiet_until(now: float, tz: str | None, quiet: QuietHours) -> float | None:
    """When quiet hours end if `now` falls inside them, else None."""
    here = local(now, tz)
    minute = here.hour * 60 + here.minute
    if not _inside(minute, quiet.start, quiet.end):
        return None
    day = here.date()
    if quiet.start > quiet.end and minute >= quiet.start:
        day += dt.timedelta(days=1)  # 21:00–08:00 entered in the evening ends tomorrow morning
    return _at(day, quiet.end, tz)


def parse_time(value: object, tz: str | None) -> float | None:
    """A trait holding a time: epoch seconds, ISO-8601 date-time, or a date (midnight, local). None if not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return _at(day, 0, tz)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(tz))
    return parsed.timestamp()


def on_local_day_at(ts: float, tz: str | None, minutes: int) -> float:
    """The same local date as `ts`, at `minutes` after local midnight."""
    return _at(local(ts, tz).date(), minutes, tz)
