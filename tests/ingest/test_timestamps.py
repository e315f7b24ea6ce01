"""Event times written as Segment writes them."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rumbo.ingest.timestamps import iso, parse_time


def reference(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@given(st.floats(min_value=-2_208_988_800.0, max_value=7_258_118_400.0, allow_nan=False))
def test_iso_writes_what_datetime_writes(seconds: float) -> None:
    assert iso(seconds) == reference(seconds)


def test_iso_at_the_edges_of_a_second() -> None:
    for seconds in (0.0, -0.0004, -0.0005, 0.9995, 0.9999996, 1_772_409_600.9999995, -1.5, 1e9 + 0.0005):
        assert iso(seconds) == reference(seconds), seconds
    assert iso(1_772_409_600.25) == "2026-03-02T00:00:00.250Z"
    assert parse_time(iso(1_772_409_600.25)) == 1_772_409_600.25
