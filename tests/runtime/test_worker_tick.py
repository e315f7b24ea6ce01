"""One tick, one step per customer: a customer's due timers and pending events are applied in one step and
committed once, timers first. On SQLite and PostgreSQL."""

from __future__ import annotations

import orjson

from rumbo.runtime.intake import merge_message
from rumbo.store.base import NewEvent
from tests.runtime.conftest import DAY, HOUR, WORKSPACE, Runtime
from tests.runtime.test_lifecycle import NURTURE, traits


def test_a_due_timer_and_an_event_of_one_customer_make_one_step(runtime: Runtime) -> None:
    runtime.publish(NURTURE)
    runtime.track("ana", "signed_up")
    runtime.work()
    runtime.now += DAY + HOUR  # the first wait has ended, and ana clicks
    runtime.track("ana", "clicked")
    report = runtime.worker.tick(runtime.now)
    assert (report.timers, report.events, report.steps) == (1, 1, 1)
    # The timer went first: the wait ended (first -> second -> rest), then the click jumped.
    assert runtime.transitions("ana", "nurture")[1:] == [
        ("nurture", 1, "first", "second", "next"),
        ("nurture", 1, "second", "rest", "next"),
        ("nurture", 1, "rest", "clicked_it", "jump"),
        ("nurture", 1, "clicked_it", "rest", "next"),
    ]
    assert traits(runtime, "ana") == {"nurtured": True, "clicked": True}


def test_a_merge_waits_for_the_merged_customers_own_step_in_the_same_tick(runtime: Runtime) -> None:
    runtime.publish(NURTURE)
    runtime.track("x1", "signed_up")
    runtime.work()
    runtime.now += DAY + HOUR  # x1's wait has ended, and ana turns out to be x1
    message = merge_message("ana", "x1", "identify", "m-link", runtime.now)
    event = NewEvent(message["messageId"], "ana", runtime.now, runtime.now, orjson.dumps(message))
    runtime.store.append_events(WORKSPACE, [event])
    first = runtime.worker.tick(runtime.now)
    assert (first.timers, first.events, first.conflicts) == (1, 0, 0)  # x1's timer; the merge waits
    runtime.work()
    # The merge folded the state x1's step left: its run past the wait, its trait set.
    assert runtime.runs("ana") == [("nurture", 1, "rest")]
    assert traits(runtime, "ana") == {"nurtured": True}
    assert runtime.store.load_state(WORKSPACE, "x1") is None
