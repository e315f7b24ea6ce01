"""Funnels on a hand-worked set of customers, on both engines."""

from __future__ import annotations

import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import ENGINES, open_engine
from rumbo.analytics.funnels import ALL, FunnelInvalid, funnel

T0 = 1_795_000_000.0
DAY = 86400.0
WEEK = 7 * DAY


def ev(
    customer: str, name: str, day: float, channel: str = "web", plan: str | None = None
) -> dict[str, object]:
    return {
        "customer": customer,
        "event": name,
        "timestamp": T0 + day * DAY,
        "channel": channel,
        "properties": {"plan": plan} if plan else None,
        "messageId": f"{customer}-{name}-{day}",
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    archive = Archive(tmp_path_factory.mktemp("funnels"))
    archive.append(
        "event",
        [
            ev("c1", "view", 0, plan="pro"),
            ev("c1", "cart", 1),
            ev("c1", "order", 2),  # all three
            ev("c2", "view", 0, "email"),
            ev("c2", "cart", 8),  # cart outside the week
            ev("c3", "view", 0, plan="pro"),
            ev("c3", "order", 1),
            ev("c3", "cart", 2),  # order before cart
            ev("c4", "cart", 0),
            ev("c4", "order", 1),  # never viewed: not in the funnel
            ev("c5", "view", 3),
            ev("c5", "view", 4),
            ev("c5", "cart", 5),
            ev("c5", "order", 12),  # 9 days
            ev("c6", "view", 0, "email"),
            ev("c6", "cart", 0, "email"),
            ev("c6", "order", 6.99, "email"),
        ],
    )
    return archive


def rows(result_rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [
        (r["segment"], r["step"], r["customers"], r["from_previous"], r["from_first"]) for r in result_rows
    ]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_ordered_funnel_within_a_week(archive: Archive, engine_name: str) -> None:
    result = funnel(open_engine(archive, engine_name), ["view", "cart", "order"], within=WEEK)
    assert rows(result.to_table().to_pylist()) == [
        (ALL, 1, 5, 1.0, 1.0),
        (ALL, 2, 4, 0.8, 0.8),
        (ALL, 3, 2, 0.5, 0.4),
    ]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_funnel_by_channel_of_the_first_step(archive: Archive, engine_name: str) -> None:
    result = funnel(open_engine(archive, engine_name), ["view", "cart", "order"], within=WEEK, by="channel")
    assert rows(result.to_table().to_pylist()) == [
        ("email", 1, 2, 1.0, 1.0),
        ("email", 2, 1, 0.5, 0.5),
        ("email", 3, 1, 1.0, 0.5),
        ("web", 1, 3, 1.0, 1.0),
        ("web", 2, 3, 1.0, 1.0),
        ("web", 3, 1, 1 / 3, 1 / 3),
    ]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_funnel_by_property_and_a_shorter_window(archive: Archive, engine_name: str) -> None:
    result = funnel(
        open_engine(archive, engine_name), ["view", "cart"], within=1.5 * DAY, by="properties.plan"
    )
    got = {(r["segment"], r["step"]): r["customers"] for r in result.to_table().to_pylist()}
    # pro: c1 (cart day 1), c3 (cart day 2, too late); none: c2 (late), c5 (day 4 view -> first view day 3,
    # cart day 5: 2 days, too late), c6 (same day)
    assert got == {("(none)", 1): 3, ("(none)", 2): 1, ("pro", 1): 2, ("pro", 2): 1}


def test_both_engines_agree_and_bad_requests_say_what_to_do(archive: Archive) -> None:
    duck, click = (
        funnel(open_engine(archive, n), ["view", "order"], within=WEEK).to_table() for n in ENGINES
    )
    assert duck.equals(click)
    engine = open_engine(archive)
    with pytest.raises(FunnelInvalid, match="at least two steps"):
        funnel(engine, ["view"], within=WEEK)
    with pytest.raises(FunnelInvalid, match=r"properties\.<key>"):
        funnel(engine, ["view", "cart"], within=WEEK, by="colour")
