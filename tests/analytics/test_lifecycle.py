"""Lifecycle stages and cohort retention on hand-worked customers, on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import ENGINES, open_engine
from rumbo.analytics.lifecycle import LifecycleInvalid, LifecycleRules, lifecycle, retention

DAY = 86400.0
RULES = LifecycleRules(purchase_events=("order",), active=14 * DAY, lapsed=28 * DAY)


def ev(customer: str, name: str, month: int, day: int) -> dict[str, object]:
    at = datetime(2026, month, day, 12, tzinfo=UTC)
    return {"customer": customer, "event": name, "timestamp": at, "messageId": f"{customer}-{month}-{day}"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    archive = Archive(tmp_path_factory.mktemp("lifecycle"))
    archive.append(
        "event",
        [
            ev("p", "page_view", 11, 3),  # never buys
            ev("n", "page_view", 11, 2),
            ev("n", "order", 11, 4),  # buys once
            ev("a", "order", 11, 2),
            ev("a", "order", 11, 20),
            ev("a", "order", 12, 1),  # keeps buying
            ev("r", "order", 10, 1),
            ev("r", "order", 11, 10),  # comes back after 40 days
        ],
    )
    return archive


@pytest.mark.parametrize("engine_name", ENGINES)
def test_stages_at_the_end_of_each_week(archive: Archive, engine_name: str) -> None:
    result = lifecycle(open_engine(archive, engine_name), RULES)
    counts: dict[date, dict[str, int]] = {}
    for row in result.to_table().to_pylist():
        if row["customers"]:
            counts.setdefault(row["period"], {})[row["stage"]] = row["customers"]
    assert counts[date(2026, 9, 28)] == {"new": 1}
    assert counts[date(2026, 11, 2)] == {"prospect": 1, "new": 2, "lapsed": 1}
    assert counts[date(2026, 11, 9)] == {"prospect": 1, "new": 2, "reactivated": 1}
    assert counts[date(2026, 11, 16)] == {"prospect": 1, "active": 1, "reactivated": 1, "at_risk": 1}
    assert counts[date(2026, 11, 23)] == {"prospect": 1, "active": 1, "at_risk": 2}
    assert counts[date(2026, 11, 30)] == {"prospect": 1, "active": 1, "at_risk": 1, "lapsed": 1}
    last = [r for r in result.to_table().to_pylist() if r["period"] == date(2026, 11, 30)]
    assert [r["stage"] for r in last] == ["prospect", "new", "active", "reactivated", "at_risk", "lapsed"]
    assert sum(r["share"] for r in last) == pytest.approx(1.0)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_monthly_periods(archive: Archive, engine_name: str) -> None:
    result = lifecycle(open_engine(archive, engine_name), RULES, period="month")
    counts = {
        (r["period"], r["stage"]): r["customers"] for r in result.to_table().to_pylist() if r["customers"]
    }
    # End of November (Dec 1): a bought Nov 20 (active), n Nov 4 (at risk), r Nov 10 (at risk), p prospect
    assert {k[1]: v for k, v in counts.items() if k[0] == date(2026, 11, 1)} == {
        "prospect": 1,
        "active": 1,
        "at_risk": 2,
    }
    assert [p for p in sorted({k[0] for k in counts})] == [
        date(2026, 10, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_weekly_cohort_retention(archive: Archive, engine_name: str) -> None:
    result = retention(open_engine(archive, engine_name))
    assert [
        (r["cohort"], r["weeks_since"], r["customers"], r["retention"]) for r in result.to_table().to_pylist()
    ] == [
        (date(2026, 9, 28), 0, 1, 1.0),
        (date(2026, 9, 28), 6, 1, 1.0),
        (date(2026, 11, 2), 0, 3, 1.0),
        (date(2026, 11, 2), 2, 1, 1 / 3),
        (date(2026, 11, 2), 4, 1, 1 / 3),
    ]


def test_engines_agree_and_rules_are_checked(archive: Archive, tmp_path: Path) -> None:
    duck, click = (lifecycle(open_engine(archive, n), RULES).to_table() for n in ENGINES)
    assert duck.equals(click)
    with pytest.raises(LifecycleInvalid, match="shorter than the lapsed"):
        LifecycleRules(active=90 * DAY, lapsed=30 * DAY)
    assert lifecycle(open_engine(Archive(tmp_path))).to_table().num_rows == 0
