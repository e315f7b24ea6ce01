"""The worker keeps the customers it committed and does not decode them again while the stored bytes are
the ones it wrote; anything another writer changed is decoded afresh. On SQLite and PostgreSQL."""

from __future__ import annotations

from functools import partial

import orjson
import pytest

import rumbo.runtime.worker as worker_module
from rumbo.runtime.codec import decode
from rumbo.runtime.worker import StateCache, Worker
from rumbo.store.base import NewEvent
from tests.runtime.conftest import DAY, HOUR, WORKSPACE, Runtime
from tests.runtime.test_lifecycle import NURTURE

TALLY = """
journey: tally
entry: {event: visited}
events: {visited: {}, bought: {}}
reentry: always
nodes:
  counted: {update: {set: {visits: "=count('visited')"}}, next: rest}
  rest: {wait: {for: 12h}, next: done}
  done: {exit: {}}
"""


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The customers the worker decoded from stored bytes, in order (the real decoder, counted)."""
    seen: list[str] = []

    def counted(customer: str, blob: bytes) -> object:
        seen.append(customer)
        return decode(customer, blob)

    monkeypatch.setattr(worker_module, "decode", counted)
    return seen


def _state(runtime: Runtime, customer: str) -> bytes:
    stored = runtime.store.load_state(WORKSPACE, customer)
    assert stored is not None
    return stored.state


def test_kept_customers_are_not_decoded_and_step_as_decoded_ones(
    runtime: Runtime, decodes: list[str]
) -> None:
    runtime.publish(NURTURE)
    runtime.track("ana", "signed_up")
    runtime.work()
    assert decodes == []  # new customer: nothing stored yet
    runtime.now += HOUR
    runtime.track("ana", "clicked")
    runtime.now += 2 * DAY  # the wait's timer falls due too
    runtime.work()
    assert decodes == []  # every later step began from the customer the worker committed
    assert runtime.runs("ana") == [("nurture", 1, "rest")]
    # What the worker kept is what decoding the stored bytes gives.
    kept = _state(runtime, "ana")
    assert runtime.worker.states.get("ana", kept) == decode("ana", kept)


def test_a_state_another_writer_changed_is_decoded_again(runtime: Runtime, decodes: list[str]) -> None:
    runtime.publish(NURTURE)
    runtime.track("ana", "signed_up")
    runtime.work()
    # A second worker on the same database (another process, say) takes ana's next event.
    other = Worker(runtime.store, WORKSPACE, partial(runtime.setups.setup, WORKSPACE), state_cache=0)
    runtime.now += HOUR
    runtime.track("ana", "clicked")
    other.run_until_idle(lambda: runtime.now)
    assert decodes == ["ana"]  # the other worker had nothing kept
    assert len(other.states) == 0  # size 0 keeps nothing

    # This worker's kept ana is out of date: its stored bytes differ, so the state is decoded, and the
    # run the other worker moved is where the next step begins.
    runtime.now += HOUR
    runtime.track("ana", "clicked")
    runtime.work()
    assert decodes == ["ana", "ana"]
    assert runtime.runs("ana") == [("nurture", 1, "rest")]
    assert runtime.transitions("ana", "nurture")[-2:] == [
        ("nurture", 1, "rest", "clicked_it", "jump"),
        ("nurture", 1, "clicked_it", "rest", "next"),
    ]


def test_the_cache_changes_no_outcome(runtime: Runtime) -> None:
    """The same inputs in two workspaces, one worker keeping customers and one keeping none: the same states,
    byte for byte."""
    runtime.publish(TALLY)
    plain = Worker(runtime.store, "x", partial(runtime.setups.setup, WORKSPACE), state_cache=0)
    runtime.store.create_workspace("x", at=runtime.now)
    for day in range(6):
        for customer in ("ana", "bo", "cy"):
            body = {"type": "track", "event": "visited", "userId": customer, "messageId": f"{day}{customer}"}
            event = NewEvent(f"{day}{customer}", customer, runtime.now, runtime.now, orjson.dumps(body))
            for workspace in (WORKSPACE, "x"):
                runtime.store.append_events(workspace, [event])
        runtime.work()
        plain.run_until_idle(lambda: runtime.now)
        runtime.now += DAY
    assert len(runtime.worker.states) == 3
    for customer in ("ana", "bo", "cy"):
        other = runtime.store.load_state("x", customer)
        assert other is not None and other.state == _state(runtime, customer)
        assert decode(customer, other.state).traits["visits"] == 6


def test_the_least_recently_used_customer_goes_first() -> None:
    from rumbo.engine.state import Customer

    cache = StateCache(2)
    cache.put("a", b"1", Customer("a"))
    cache.put("b", b"2", Customer("b"))
    assert cache.get("a", b"1") is not None  # a is now the most recently used
    cache.put("c", b"3", Customer("c"))
    assert cache.get("b", b"2") is None
    assert cache.get("a", b"1") is not None and cache.get("c", b"3") is not None
    assert cache.get("a", b"other bytes") is None  # and a mismatch forgets it
    assert cache.get("a", b"1") is None
