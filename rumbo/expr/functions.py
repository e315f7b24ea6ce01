"""What each helper does at run time: a builder per helper turns compiled arguments into a closure.

Builders run once per compiled predicate, so whatever can be settled then is: event names and windows of
count()/last() are literals, a literal timestamp is parsed once, a literal tag is captured as a string.
Every closure is total: a missing or wrongly typed argument gives null (or false for the boolean helpers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence, Set
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rumbo.durations import parse_duration
from rumbo.expr.code import Code, constant
from rumbo.expr.runtime import is_number, member

_DAY: Final = 86400.0
_HOUR: Final = 3600.0
# Longer strings are not timestamps; refusing them keeps the parse cache small and the parse cheap.
_MAX_TIMESTAMP_LENGTH: Final = 64

# Helpers whose result depends only on their arguments, so calls with constant arguments are folded.
PURE: Final = frozenset({"lower", "upper", "contains", "starts_with", "len", "exists", "coalesce"})


@lru_cache(maxsize=4096)
def _parse_iso(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a timestamp without an offset is read as UTC
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def to_epoch(value: object) -> float | None:
    """Epoch seconds from an ISO-8601 string or a number of epoch seconds; None if neither."""
    if is_number(value):
        try:
            seconds = float(value)  # type: ignore[arg-type]
        except OverflowError:
            return None
        return seconds if math.isfinite(seconds) else None
    if isinstance(value, str) and len(value) <= _MAX_TIMESTAMP_LENGTH:
        return _parse_iso(str(value))
    return None


@lru_cache(maxsize=1024)
def _zone(name: str | None) -> tzinfo | None:
    if name is None:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        return None


def local_time(now: object, timezone: object) -> datetime | None:
    """The customer's wall-clock time at `now`; None when the zone name is unknown or now is not a time."""
    if timezone is not None and not isinstance(timezone, str):
        return None
    zone = _zone(timezone)
    if zone is None or not is_number(now):
        return None
    try:
        return datetime.fromtimestamp(now, zone)  # type: ignore[arg-type]
    except (OverflowError, ValueError, OSError):
        return None


def _count(args: list[Code]) -> Code:
    event = args[0].value
    window = parse_duration(args[1].value) if len(args) > 1 else None
    if window is None:

        def count_all(ctx: Any) -> Any:
            return ctx.count(event, None)

        return Code(count_all)

    def count_within(ctx: Any) -> Any:
        return ctx.count(event, ctx.now - window)

    return Code(count_within)


def _last(args: list[Code]) -> Code:
    event = args[0].value

    def last(ctx: Any) -> Any:
        return ctx.last(event)

    return Code(last)


def _in_segment(args: list[Code]) -> Code:
    segment = args[0].value

    def in_segment(ctx: Any) -> bool:
        return segment in ctx.segments

    return Code(in_segment, strict=True)


def _has_tag(args: list[Code]) -> Code:
    if args[0].const:
        tag = args[0].value
        if not isinstance(tag, str):
            return constant(False)

        def has_literal_tag(ctx: Any) -> bool:
            return tag in ctx.tags

        return Code(has_literal_tag, strict=True)
    arg = args[0].fn

    def has_tag(ctx: Any) -> bool:
        value = arg(ctx)
        return isinstance(value, str) and value in ctx.tags

    return Code(has_tag, strict=True)


def _elapsed(scale: float, sign: float) -> Callable[[list[Code]], Code]:
    """days_since / hours_since (sign +1: now - ts) and days_until (sign -1: ts - now)."""

    def build(args: list[Code]) -> Code:
        if args[0].const:
            moment = to_epoch(args[0].value)
            if moment is None:
                return constant(None)

            def since_literal(ctx: Any) -> Any:
                return sign * (ctx.now - moment) / scale

            return Code(since_literal)
        arg = args[0].fn

        def since(ctx: Any) -> Any:
            moment = to_epoch(arg(ctx))
            return None if moment is None else sign * (ctx.now - moment) / scale

        return Code(since)

    return build


def _local_hour(args: list[Code]) -> Code:
    def local_hour(ctx: Any) -> Any:
        moment = local_time(ctx.now, ctx.timezone)
        return None if moment is None else moment.hour

    return Code(local_hour)


def _local_weekday(args: list[Code]) -> Code:
    def local_weekday(ctx: Any) -> Any:
        moment = local_time(ctx.now, ctx.timezone)
        return None if moment is None else moment.weekday()

    return Code(local_weekday)


def _now(args: list[Code]) -> Code:
    def now(ctx: Any) -> Any:
        return ctx.now

    return Code(now)


def _lower(args: list[Code]) -> Code:
    arg = args[0].fn

    def lower(ctx: Any) -> Any:
        value = arg(ctx)
        return value.lower() if isinstance(value, str) else None

    return Code(lower)


def _upper(args: list[Code]) -> Code:
    arg = args[0].fn

    def upper(ctx: Any) -> Any:
        value = arg(ctx)
        return value.upper() if isinstance(value, str) else None

    return Code(upper)


def _contains(args: list[Code]) -> Code:
    haystack_fn, needle_fn = args[0].fn, args[1].fn

    def contains(ctx: Any) -> bool:
        haystack = haystack_fn(ctx)
        needle = needle_fn(ctx)
        if isinstance(haystack, str):
            return isinstance(needle, str) and needle in haystack
        if isinstance(haystack, Set | Sequence):
            return member(needle, haystack)
        return False

    return Code(contains, strict=True)


def _starts_with(args: list[Code]) -> Code:
    text_fn, prefix_fn = args[0].fn, args[1].fn

    def starts_with(ctx: Any) -> bool:
        text = text_fn(ctx)
        prefix = prefix_fn(ctx)
        return isinstance(text, str) and isinstance(prefix, str) and text.startswith(prefix)

    return Code(starts_with, strict=True)


def _len(args: list[Code]) -> Code:
    arg = args[0].fn

    def length(ctx: Any) -> Any:
        value = arg(ctx)
        if isinstance(value, str | Mapping | Set | Sequence) and not isinstance(value, bytes):
            return len(value)
        return None

    return Code(length)


def _exists(args: list[Code]) -> Code:
    arg = args[0].fn

    def exists(ctx: Any) -> bool:
        return arg(ctx) is not None

    return Code(exists, strict=True)


def _coalesce(args: list[Code]) -> Code:
    fns = tuple(code.fn for code in args)

    def coalesce(ctx: Any) -> Any:
        for fn in fns:
            value = fn(ctx)
            if value is not None:
                return value
        return None

    return Code(coalesce, strict=all(code.strict for code in args))


BUILDERS: Final[dict[str, Callable[[list[Code]], Code]]] = {
    "count": _count,
    "last": _last,
    "in_segment": _in_segment,
    "has_tag": _has_tag,
    "days_since": _elapsed(_DAY, 1.0),
    "days_until": _elapsed(_DAY, -1.0),
    "hours_since": _elapsed(_HOUR, 1.0),
    "local_hour": _local_hour,
    "local_weekday": _local_weekday,
    "lower": _lower,
    "upper": _upper,
    "contains": _contains,
    "starts_with": _starts_with,
    "len": _len,
    "exists": _exists,
    "coalesce": _coalesce,
    "now": _now,
}
