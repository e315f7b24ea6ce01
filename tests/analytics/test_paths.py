"""Paths between two events and Sankey flows, on hand-worked sequences, on both engines."""

from __future__ import annotations

import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import ENGINES, open_engine
from rumbo.analytics.paths import PathsInvalid, event_flows, event_paths, journey_flows

T0 = 1_795_000_000.0
DAY = 86400.0


def sequence(customer: str, *events: str, offset: float = 0) -> list[dict[str, object]]:
    return [
        {
            "customer": customer,
            "event": name,
            "timestamp": T0 + (offset + i) * DAY,
            "messageId": f"{customer}-{i}",
        }
        for i, name in enumerate(events)
    ]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    archive = Archive(tmp_path_factory.mktemp("paths"))
    archive.append(
        "event",
        [
            *sequence("c1", "view", "cart", "order"),
            *sequence("c2", "view", "cart", "order"),
            *sequence("c3", "view", "search", "cart", "order"),
            *sequence("c4", "view"),  # never ordered: no path
            *sequence("c5", "cart", "view", "order", "order"),  # path starts at the view
            *sequence("c6", "view", "a", "b", "c", "d", "order"),  # longer than four steps
        ],
    )
    base = {"journey": "j", "version": 1}
    archive.append(
        "transition",
        [
            {**base, "run": "r1", "from_node": None, "to_node": "start", "cause": "entered", "at": T0},
            {**base, "run": "r1", "from_node": "start", "to_node": "email", "cause": "next", "at": T0 + 1},
            {**base, "run": "r1", "from_node": "email", "to_node": None, "cause": "goal", "at": T0 + 2},
            {**base, "run": "r2", "from_node": None, "to_node": "start", "cause": "entered", "at": T0},
            {**base, "run": "r2", "from_node": "start", "to_node": "email", "cause": "next", "at": T0 + 1},
            {**base, "run": "r3", "from_node": None, "to_node": "start", "cause": "entered", "at": T0},
        ],
    )
    return archive


@pytest.mark.parametrize("engine_name", ENGINES)
def test_most_common_paths_between_two_events(archive: Archive, engine_name: str) -> None:
    result = event_paths(open_engine(archive, engine_name), "view", "order", max_steps=4)
    assert result.customers == 5
    assert [(r["path"], r["steps"], r["customers"], r["share"]) for r in result.to_table().to_pylist()] == [
        ("view → cart → order", 3, 2, 0.4),
        ("view → a → b → … → order", 5, 1, 0.2),
        ("view → order", 2, 1, 0.2),
        ("view → search → cart → order", 4, 1, 0.2),
    ]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_event_flows_step_by_step(archive: Archive, engine_name: str) -> None:
    flows = event_flows(open_engine(archive, engine_name), start="view", max_steps=3)
    got = {(r["source"], r["target"]): r["count"] for r in flows.to_table().to_pylist()}
    assert got == {
        ("1. view", "2. cart"): 2,
        ("1. view", "2. search"): 1,
        ("1. view", "2. order"): 1,
        ("1. view", "2. a"): 1,
        ("2. cart", "3. order"): 2,
        ("2. search", "3. cart"): 1,
        ("2. order", "3. order"): 1,
        ("2. a", "3. b"): 1,
    }


@pytest.mark.parametrize("engine_name", ENGINES)
def test_journey_flows_from_transitions(archive: Archive, engine_name: str) -> None:
    flows = journey_flows(open_engine(archive, engine_name), journey="j")
    assert flows.to_table().to_pylist() == [
        {"source": "(entry)", "target": "start", "count": 3},
        {"source": "start", "target": "email", "count": 2},
        {"source": "email", "target": "(exit)", "count": 1},
    ]


def test_too_few_steps_is_an_error(archive: Archive) -> None:
    with pytest.raises(PathsInvalid, match="at least 2"):
        event_paths(open_engine(archive), "view", "order", max_steps=1)
