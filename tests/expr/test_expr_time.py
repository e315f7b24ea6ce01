"""Time helpers: elapsed days and hours from ISO-8601 or epoch seconds, and local time in real IANA zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from expr_context import NOW, Ctx

from rumbo.expr import compile_expression, compile_predicate


def at(*parts: int) -> float:
    """Epoch seconds of a UTC wall-clock time."""
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def value(source: str, ctx: Ctx) -> object:
    return compile_expression(source).evaluate(ctx)


# NOW is 2026-11-23T00:00:00Z.
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("days_since('2026-11-13T00:00:00Z')", 10.0),
        ("days_since('2026-11-13')", 10.0),  # a date alone is midnight UTC
        ("days_since('2026-11-13T00:00:00')", 10.0),  # no offset: read as UTC
        ("days_since('2026-11-22T12:00:00+01:00')", 13 / 24),  # 11:00Z, 13 hours before
        ("hours_since('2026-11-22T12:00:00+01:00')", 13.0),
        ("hours_since('2026-11-22T23:30:00.500Z')", 0.5 - 0.5 / 3600),
        ("days_until('2026-12-25')", 32.0),
        ("days_until('2026-11-20T00:00:00Z')", -3.0),
        ("days_since(1795392000 - 3 * 86400)", 3.0),
        ("hours_since(1795392000.0 - 5400)", 1.5),
        ("days_since('yesterday')", None),
        ("days_since('2026-13-01')", None),
        ("days_since(properties.missing)", None),
        ("days_since('')", None),
    ],
)
def test_elapsed_time_helpers_read_iso_strings_and_epoch_seconds(source: str, expected: float | None) -> None:
    assert value(source, Ctx(now=NOW)) == (pytest.approx(expected) if expected is not None else None)


def test_elapsed_time_of_fields_that_are_missing_or_not_times_is_null() -> None:
    ctx = Ctx(traits={"signed_up_at": "2026-11-13T00:00:00Z", "bad": "soon", "flag": True, "n": 10**400})
    assert value("days_since(profile.traits.signed_up_at)", ctx) == 10.0
    for field in ("bad", "flag", "n", "missing"):
        assert value(f"days_since(profile.traits.{field})", ctx) is None, field
        assert compile_predicate(f"days_since(profile.traits.{field}) > 1")(ctx) is False
        assert compile_predicate(f"days_since(profile.traits.{field}) < 1")(ctx) is False


# Europe/Madrid: CET (UTC+1) in winter, CEST (UTC+2) from 2026-03-29 01:00Z to 2026-10-25 01:00Z.
# America/Los_Angeles: PST (UTC-8) in winter, PDT (UTC-7) from 2026-03-08 10:00Z to 2026-11-01 09:00Z.
@pytest.mark.parametrize(
    ("zone", "now", "hour", "weekday"),
    [
        ("Europe/Madrid", at(2026, 3, 29, 0, 30), 1, 6),  # 01:30 CET, Sunday
        ("Europe/Madrid", at(2026, 3, 29, 1, 30), 3, 6),  # 03:30 CEST: 02:xx never happened
        ("Europe/Madrid", at(2026, 10, 25, 0, 30), 2, 6),  # 02:30 CEST
        ("Europe/Madrid", at(2026, 10, 25, 1, 30), 2, 6),  # 02:30 CET again, an hour later
        ("Europe/Madrid", at(2026, 7, 1, 22, 15), 0, 3),  # 00:15 on Thursday 2 July
        ("America/Los_Angeles", at(2026, 3, 8, 9, 30), 1, 6),  # 01:30 PST, Sunday
        ("America/Los_Angeles", at(2026, 3, 8, 10, 30), 3, 6),  # 03:30 PDT
        ("America/Los_Angeles", at(2026, 11, 23, 7, 0), 23, 6),  # 23:00 PST on Sunday 22 November
        ("America/Los_Angeles", at(2026, 7, 1, 6, 59), 23, 1),  # 23:59 PDT on Tuesday 30 June
        (None, at(2026, 11, 23, 7, 0), 7, 0),  # no zone: UTC, Monday
        ("UTC", at(2026, 11, 23, 23, 59), 23, 0),
    ],
)
def test_local_hour_and_weekday_follow_the_customers_zone_across_dst(
    zone: str | None, now: float, hour: int, weekday: int
) -> None:
    ctx = Ctx(now=now, timezone=zone)
    assert value("local_hour()", ctx) == hour
    assert value("local_weekday()", ctx) == weekday


def test_quiet_hours_predicate_in_two_zones_at_the_same_instant() -> None:
    # 2026-11-23T07:00Z is 08:00 Monday in Madrid and 23:00 Sunday in Los Angeles.
    waking = compile_predicate("local_hour() >= 8 and local_hour() < 21 and local_weekday() < 5")
    now = at(2026, 11, 23, 7, 0)
    assert waking(Ctx(now=now, timezone="Europe/Madrid")) is True
    assert waking(Ctx(now=now, timezone="America/Los_Angeles")) is False


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "Europe"])
def test_an_unknown_time_zone_gives_null_not_an_error(zone: str) -> None:
    ctx = Ctx(now=NOW, timezone=zone)
    assert value("local_hour()", ctx) is None
    assert value("local_weekday()", ctx) is None
    assert compile_predicate("local_hour() >= 0")(ctx) is False
