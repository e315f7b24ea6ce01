"""Properties over random journeys and random event streams (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rumbo.engine.commands import Send
from rumbo.engine.inputs import TimerFired
from rumbo.engine.policy import Cap, Policy
from rumbo.engine.step import Engine
from rumbo.errors import IllegalInput
from rumbo.journey.build import build_journey
from rumbo.journey.document import Document
from rumbo.journey.model import Journey
from rumbo.records import Transition
from rumbo.replay.virtual import VirtualRuntime
from tests.helpers import DAY, HOUR, T0

EVENTS = ("a", "b", "c")
CHANNELS = ("email", "sms", "push", "best")


@st.composite
def journeys(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A random valid journey: nodes in a line, forward edges only, so no cycle can spin."""
    size = draw(st.integers(2, 7))
    ids = [f"n{i}" for i in range(size)] + ["end"]
    nodes: dict[str, Any] = {}
    for i in range(size):
        later = st.sampled_from(ids[i + 1 :])
        kind = draw(st.sampled_from(["wait", "wait_for", "branch", "split", "send", "update"]))
        if kind == "wait":
            nodes[ids[i]] = {"wait": {"for": f"{draw(st.integers(1, 48))}h"}, "next": draw(later)}
        elif kind == "wait_for":
            nodes[ids[i]] = {
                "wait_for": {"event": draw(st.sampled_from(EVENTS)), "timeout": "1d"},
                "next": {"happened": draw(later), "timed_out": draw(later)},
            }
        elif kind == "branch":
            nodes[ids[i]] = {
                "branch": {
                    "cases": [{"when": "count('a', within='2d') >= 2", "next": draw(later)}],
                    "else": draw(later),
                }
            }
        elif kind == "split":
            nodes[ids[i]] = {
                "split": {"variants": {"A": 50, "B": 50}, "holdout": 10},
                "next": {"A": draw(later), "B": draw(later)},
            }
        elif kind == "send":
            nodes[ids[i]] = {
                "send": {"channel": draw(st.sampled_from(CHANNELS)), "template": f"t{i}"},
                "next": draw(later),
            }
        else:
            nodes[ids[i]] = {"update": {"increment": {"score": 1}}, "next": draw(later)}
    nodes["end"] = {"exit": {}}
    # Nodes no edge reaches are dropped, as an author would.
    reachable, todo = set(), ["n0"]
    while todo:
        current = todo.pop()
        if current in reachable:
            continue
        reachable.add(current)
        body = nodes[current]
        targets = (
            [body.get("next")]
            if isinstance(body.get("next"), str)
            else list((body.get("next") or {}).values())
        )
        if "branch" in body:
            targets = [body["branch"]["else"], *(c["next"] for c in body["branch"]["cases"])]
        todo.extend(t for t in targets if t)
    return {
        "journey": name,
        "priority": draw(st.integers(1, 100)),
        "events": {e: {} for e in EVENTS},
        "entry": {"event": draw(st.sampled_from(EVENTS))},
        "reentry": draw(st.sampled_from(["never", "always", {"cooldown": "1d"}])),
        "goal": {"event": draw(st.sampled_from(EVENTS)), "within": "3d"},
        "on": [{"event": draw(st.sampled_from(EVENTS)), "goto": draw(st.sampled_from(sorted(reachable)))}]
        if draw(st.booleans())
        else [],
        "nodes": {k: v for k, v in nodes.items() if k in reachable},
    }


def compile_all(docs: list[dict[str, Any]]) -> list[Journey]:
    return [build_journey(Document(doc, f"{doc['journey']}.yaml")) for doc in docs]


streams = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from(EVENTS), st.integers(0, 30 * 3600)), min_size=1, max_size=60
)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CAPS = (Cap(2, DAY), Cap(4, 7 * DAY))


def run_stream(journey_docs: list[dict[str, Any]], stream: list[tuple[int, str, int]]) -> VirtualRuntime:
    engine = Engine(compile_all(journey_docs), Policy(caps=CAPS, quiet_hours=None, arbitration_window=HOUR))
    runtime = VirtualRuntime(engine)
    for i in range(5):
        runtime.replay(
            [
                {
                    "type": "identify",
                    "userId": f"u{i}",
                    "messageId": f"id{i}",
                    "timestamp": T0,
                    "traits": {
                        "email": "x@y.z",
                        "phone": "+1",
                        "push_token": "t",
                        "consent": {"email": True, "sms": True, "push": True},
                    },
                }
            ]
        )
    messages = [
        {
            "type": "track",
            "event": name,
            "userId": f"u{who}",
            "messageId": f"m{k}",
            "timestamp": T0 + 1 + offset,
        }
        for k, (who, name, offset) in enumerate(stream)
    ]
    runtime.replay(messages, until=T0 + 40 * DAY)
    return runtime


@PROPERTY
@given(st.lists(journeys("j1"), min_size=1, max_size=1), st.lists(journeys("j2"), max_size=1), streams)
def test_replaying_the_same_inputs_gives_the_same_outputs(
    first: list[dict[str, Any]], second: list[dict[str, Any]], stream: list[tuple[int, str, int]]
) -> None:
    docs = first + second
    one, two = run_stream(docs, stream), run_stream(docs, stream)
    assert one.commands == two.commands
    assert {k: c.as_dict() for k, c in one.customers.items()} == {
        k: c.as_dict() for k, c in two.customers.items()
    }
    assert one.refusals == [] and two.refusals == []


@PROPERTY
@given(st.lists(journeys("j1"), min_size=1, max_size=1), st.lists(journeys("j2"), max_size=1), streams)
def test_a_run_is_only_ever_in_one_node_and_caps_are_never_exceeded(
    first: list[dict[str, Any]], second: list[dict[str, Any]], stream: list[tuple[int, str, int]]
) -> None:
    runtime = run_stream(first + second, stream)
    where: dict[str, str | None] = {}
    for command in runtime.commands:
        if isinstance(command, Transition):
            if command.cause == "entered":
                assert command.run not in where  # a run id is never reused
            else:
                assert where[command.run] == command.from_node  # each move starts where the run was
            where[command.run] = command.to_node
    for customer in runtime.customers.values():
        for run in customer.runs.values():
            assert where[run.id] == run.node
        journeys_with_runs = [r.journey for r in customer.runs.values()]
        assert len(journeys_with_runs) == len(set(journeys_with_runs))  # one active run per journey
    sends_by_customer: dict[str, list[float]] = {}
    for command in runtime.commands:
        if isinstance(command, Send) and not command.transactional:
            sends_by_customer.setdefault(command.customer, []).append(command.at)
    for times in sends_by_customer.values():
        for cap in CAPS:
            for t in times:
                assert sum(1 for s in times if t - cap.per < s <= t) <= cap.max


@PROPERTY
@given(journeys("j1"), streams, st.integers(2, 50))
def test_an_illegal_input_leaves_the_state_unchanged_and_says_why(
    doc: dict[str, Any], stream: list[tuple[int, str, int]], bad_token: int
) -> None:
    runtime = run_stream([doc], stream[: len(stream) // 2])
    engine = runtime.engine
    for customer in runtime.customers.values():
        before = customer.as_dict()
        for run in list(customer.runs.values()):
            token = run.timer + bad_token
            with pytest.raises(IllegalInput) as caught:
                engine.step(customer, TimerFired(run.id, token), runtime.now)
            assert caught.value.run == run.id and "stale timer" in str(caught.value)
        with pytest.raises(IllegalInput, match="not active"):
            engine.step(customer, TimerFired("r-missing", 1), runtime.now)
        assert customer.as_dict() == before
