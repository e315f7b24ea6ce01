"""Merging the engine's state of two customers: runs follow the survivor under the journey's rules."""

from __future__ import annotations

import pytest

from rumbo.engine.commands import CancelTimer
from rumbo.engine.inputs import TimerFired
from rumbo.engine.policy import Policy
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.identity import CustomersNotMergeable, Profile, merge_customers
from rumbo.records import Transition
from tests.helpers import DAY, HOUR, T0, event, journey

ONE_AT_A_TIME = journey(
    """
    journey: j
    events: {go: {}}
    entry: {event: go}
    nodes:
      hold: {wait: {for: 3d}, next: end}
      end: {exit: {}}
    """
)
MANY_AT_ONCE = journey(
    """
    journey: k
    events: {go: {}}
    concurrent_runs: true
    entry: {event: go}
    nodes:
      hold: {wait: {for: 1d}, next: end}
      end: {exit: {}}
    """
)
ENGINE = Engine([ONE_AT_A_TIME, MANY_AT_ONCE], Policy(quiet_hours=None, caps=()))


def entered(customer_id: str, at: float) -> Customer:
    return ENGINE.step(Customer(customer_id), event("go", at, f"go-{customer_id}"), at).customer


def test_of_two_runs_of_a_one_at_a_time_journey_the_first_entered_is_kept() -> None:
    early, late = entered("ca", T0), entered("cb", T0 + HOUR)
    (run_j_early,) = early.runs_of("j")
    (run_j_late,) = late.runs_of("j")
    result = merge_customers(
        late, early, ENGINE.versions, at=T0 + 2 * HOUR, input="merge:m9:ca", workspace="w"
    )
    assert result.customer.id == "cb"
    assert result.customer.runs_of("j") == [run_j_early]
    assert result.stopped == (run_j_late,)
    assert result.commands == (
        CancelTimer("cb", run_j_late.id, run_j_late.timer),
        Transition(
            "w",
            "cb",
            "j",
            1,
            run_j_late.id,
            "hold",
            None,
            "stopped",
            "merge:m9:ca",
            T0 + 2 * HOUR,
            None,
            T0 + HOUR,
        ),
    )
    # Both runs of the concurrent journey stay; the moved runs' timers are re-keyed to the survivor.
    assert sorted(r.id for r in result.customer.runs_of("k")) == sorted(
        r.id for c in (early, late) for r in c.runs_of("k")
    )
    assert result.moved_runs == tuple(sorted(r.id for r in early.runs.values()))
    assert result.customer.entries == {"j": (2, T0 + HOUR), "k": (2, T0 + HOUR)}
    assert result.customer.seq == 2  # each customer used tokens 1 and 2; new timers continue after them


def test_the_kept_run_carries_on_for_the_survivor() -> None:
    early, late = entered("ca", T0), entered("cb", T0 + HOUR)
    merged = merge_customers(late, early, ENGINE.versions, at=T0 + 2 * HOUR, input="x").customer
    (run,) = merged.runs_of("j")
    done = ENGINE.step(merged, TimerFired(run.id, run.timer), T0 + 3 * DAY)
    assert merged.runs_of("j") == [run]  # the step did not touch the state it was given
    assert done.customer.runs_of("j") == []
    exits = [c for c in done.commands if isinstance(c, Transition) and c.to_node is None]
    assert [(t.customer, t.run, t.cause) for t in exits] == [("cb", run.id, "next")]


def test_the_merge_does_not_depend_on_which_customer_survives_except_for_the_id() -> None:
    early, late = entered("ca", T0), entered("cb", T0 + HOUR)
    one = merge_customers(late, early, ENGINE.versions, at=T0 + 2 * HOUR, input="x").customer
    other = merge_customers(early, late, ENGINE.versions, at=T0 + 2 * HOUR, input="x").customer
    other.id = one.id
    assert one == other


def test_aggregates_sends_trackers_and_tags_combine() -> None:
    a, b = Customer("ca", tags=frozenset({"vip"})), Customer("cb", tags=frozenset({"b2b"}))
    a.counts, b.counts = {"viewed": (10.0, 30.0)}, {"viewed": (20.0,), "bought": (25.0,)}
    a.last = {"viewed": {"timestamp": "2026-03-02T08:00:00Z", "properties": {"sku": "A"}}}
    b.last = {"viewed": {"timestamp": "2026-03-02T09:00:00+00:00", "properties": {"sku": "B"}}}
    a.sends = ((40.0, "email", "j", 1.0, None),)
    b.sends = ((35.0, "sms", "k", 2.0, None),)
    a.trackers = (("j", 1, "r1", 5.0, 99.0, None),)
    b.trackers = (("k", 1, "r2", 3.0, 99.0, "A"),)
    result = merge_customers(a, b, ENGINE.versions, at=50.0, input="x").customer
    assert result.counts == {"bought": (25.0,), "viewed": (10.0, 20.0, 30.0)}
    assert result.last["viewed"]["properties"] == {"sku": "B"}  # 09:00 is later than 08:00
    assert result.sends == ((35.0, "sms", "k", 2.0, None), (40.0, "email", "j", 1.0, None))
    assert result.trackers == (("k", 1, "r2", 3.0, 99.0, "A"), ("j", 1, "r1", 5.0, 99.0, None))
    assert result.tags == {"vip", "b2b"}


def test_traits_and_consent_come_from_the_merged_profile_when_given() -> None:
    a = Customer("ca", traits={"plan": "free"}, consent={"email": True})
    b = Customer("cb", traits={"plan": "pro", "city": "Vigo"}, consent={"email": False, "sms": True})
    # Without a profile: the survivor's values win, the other's fill the gaps.
    plain = merge_customers(a, b, ENGINE.versions, at=1.0, input="x").customer
    assert plain.traits == {"plan": "free", "city": "Vigo"}
    assert plain.consent == {"email": True, "sms": True}
    profile = Profile("ca").set_traits({"plan": "pro"}, at=9.0)
    timed = merge_customers(a, b, ENGINE.versions, at=1.0, input="x", profile=profile).customer
    assert timed.traits == {"plan": "pro"}


def test_a_state_cannot_be_merged_with_itself() -> None:
    early = entered("ca", T0)
    twin = entered("ca", T0)
    twin.id = "cb"
    with pytest.raises(CustomersNotMergeable, match="both hold runs"):
        merge_customers(early, twin, ENGINE.versions, at=T0, input="x")
    with pytest.raises(CustomersNotMergeable, match="they are the same customer"):
        merge_customers(early, Customer("ca"), ENGINE.versions, at=T0, input="x")
