"""The example journeys validate, replay on their event files, and match their golden histories.

A golden history is the exact command list a replay produced when it was last reviewed. A change to the
engine that changes any of them fails here; if the change is intended, regenerate them with
`RUMBO_UPDATE_GOLDEN=1 scripts/test tests/journey/test_examples.py` and review the diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from rumbo.engine.commands import Send
from rumbo.engine.step import Engine
from rumbo.journey.load import load_journeys
from rumbo.journey.model import (
    BranchNode,
    DecideNode,
    EmitNode,
    ExitNode,
    SendNode,
    SplitNode,
    UpdateNode,
    WaitForNode,
    WaitNode,
)
from rumbo.records import Conversion, Transition
from rumbo.replay.virtual import VirtualRuntime, event_time

ROOT = Path(__file__).resolve().parents[2]
JOURNEYS = ROOT / "examples" / "journeys"
EVENTS = sorted((ROOT / "examples" / "events").glob("*.jsonl"))
GOLDEN = ROOT / "tests" / "golden"


def replay(events: Path) -> VirtualRuntime:
    messages = [orjson.loads(line) for line in events.read_text().splitlines() if line.strip()]
    runtime = VirtualRuntime(Engine(load_journeys([JOURNEYS])))
    runtime.replay(messages, until=max(event_time(m) for m in messages) + 30 * 86400)
    return runtime


def as_lines(runtime: VirtualRuntime) -> list[str]:
    def plain(command: Any) -> dict[str, Any]:
        return {"command": type(command).__name__, **{s: getattr(command, s) for s in command.__slots__}}

    return [orjson.dumps(plain(c), option=orjson.OPT_SORT_KEYS).decode() for c in runtime.commands]


def test_every_example_validates_and_together_they_cover_every_node_and_entry_type() -> None:
    journeys = load_journeys([JOURNEYS])
    assert len(journeys) == 8
    node_types = {type(n) for j in journeys for n in j.nodes.values()}
    assert node_types == {
        WaitNode,
        WaitForNode,
        BranchNode,
        SplitNode,
        SendNode,
        DecideNode,
        UpdateNode,
        EmitNode,
        ExitNode,
    }
    assert {e.kind for j in journeys for e in j.entries} == {"event", "segment", "schedule", "api"}
    waits = [n for j in journeys for n in j.nodes.values() if isinstance(n, WaitNode)]
    assert (
        any(w.seconds for w in waits) and any(w.window for w in waits) and any(w.until_trait for w in waits)
    )
    policies = {n.policy for j in journeys for n in j.nodes.values() if isinstance(n, DecideNode)}
    assert policies == {"thompson", "propensity_value"}


@pytest.mark.parametrize("events", EVENTS, ids=[e.stem for e in EVENTS])
def test_each_event_file_replays_without_refusals_and_moves_customers(events: Path) -> None:
    runtime = replay(events)
    assert runtime.refusals == []
    transitions = [c for c in runtime.commands if isinstance(c, Transition)]
    assert any(t.journey == events.stem and t.cause == "entered" for t in transitions)


@pytest.mark.parametrize("events", EVENTS, ids=[e.stem for e in EVENTS])
def test_golden_history(events: Path) -> None:
    lines = as_lines(replay(events))
    golden = GOLDEN / f"{events.stem}.jsonl"
    if os.environ.get("RUMBO_UPDATE_GOLDEN") == "1":
        golden.write_text("\n".join(lines) + "\n")
    assert golden.exists(), f"no golden history {golden}; create it with RUMBO_UPDATE_GOLDEN=1"
    assert lines == golden.read_text().splitlines()


def test_cart_recovery_behaves_as_designed() -> None:
    runtime = replay(EVENTS[[e.stem for e in EVENTS].index("cart-recovery")])
    cart = [c for c in runtime.commands if getattr(c, "journey", None) == "cart-recovery"]
    entered = {c.run for c in cart if isinstance(c, Transition) and c.cause == "entered"}
    # carts under 20 never enter: 4 of the 40 customers have a 15.00 cart
    assert len(entered) == 36
    sends = [c for c in cart if isinstance(c, Send)]
    assert {s.channel for s in sends if s.node == "sms"} <= {"sms", "email"}
    assert all(s.variant in ("A", "B") for s in sends if s.node in ("email", "sms"))
    converted = {c.run for c in cart if isinstance(c, Conversion)}
    assert converted <= entered and len(converted) > 0
