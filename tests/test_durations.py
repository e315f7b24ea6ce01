from __future__ import annotations

import pytest

from rumbo.durations import format_duration, parse_duration
from rumbo.errors import DurationInvalid


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("3d", 259200),
        ("2w", 1209600),
        ("1d12h", 129600),
        ("-14d", -1209600),
        ("1.5h", 5400),
        (30, 30.0),
    ],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "3", "3 days", "d3", "1x", None, True, "h1"])
def test_parse_duration_rejects_with_example(text: object) -> None:
    with pytest.raises(DurationInvalid, match=r"e\.g\. '90s'"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0, 59, 3600, 93600, 1209600 + 61, -86400])
def test_format_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
