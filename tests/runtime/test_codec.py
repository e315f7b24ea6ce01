"""The stored state: what goes in comes out equal, and a waiting run stays small."""

from __future__ import annotations

import msgpack
import pytest

from rumbo.demo.run import example_journeys
from rumbo.engine.inputs import EventInput
from rumbo.engine.policy import Policy
from rumbo.engine.state import Customer, Run
from rumbo.engine.step import Engine
from rumbo.journey.load import load_journeys
from rumbo.runtime.codec import StateUnreadable, decode, encode


def test_a_customer_with_everything_comes_back_equal() -> None:
    c = Customer("c1", {"email": "a@example.com", "plan": "pro", "n": 3}, {"email": True, "sms.promo": False})
    c.tags = frozenset({"vip", "beta"})
    c.segments = frozenset({"lapsing"})
    c.runs["r1"] = Run("r1", "welcome", 2, "wait", 1772409600.25, "A", 7, {"offer": "ten"})
    c.runs["r2"] = Run("r2", "cart", 1, "email", 1772409601.5)
    c.runs["r3"] = Run("r3", "cart", 1, "sms", 1772409602.5, "B")
    c.entries = {"welcome": (2, 1772409600.25)}
    c.counts = {"order_completed": (1772409500.0, 1772409550.5)}
    c.last = {"page_viewed": {"properties": {"url": "/x"}}}
    c.sends = ((1772409600.0, "email", "welcome", 1.5, None),)
    c.trackers = (("cart", 1, "r9", 1772400000.0, 1772500000.0, None),)
    c.seq = 9
    back = decode("c1", encode(c))
    assert back == c
    assert back.runs["r1"].of is c.runs["r1"].of  # the shared (journey, version) tuple


def test_states_written_by_the_engine_round_trip() -> None:
    engine = Engine(load_journeys([example_journeys()]), Policy())
    customer = Customer("c2", {"email": "b@example.com", "timezone": "Europe/Madrid"}, {"email": True})
    at = 1772409600.0
    for i, name in enumerate(["identified", "page_viewed", "product_viewed", "cart_abandoned"]):
        event = {"type": "track", "event": name, "properties": {"value": 40}, "traits": {"plan": "x"}}
        customer = engine.step(customer, EventInput(f"m{i}", name, at + i, event), at + i).customer
    assert customer.runs, "the example journeys should have started a run"
    assert decode("c2", encode(customer)) == customer


def test_a_waiting_run_costs_well_under_100_bytes() -> None:
    base = Customer("c3")
    with_run = base.copy()
    with_run.runs = {
        "r8f3a9c2d41be": Run("r8f3a9c2d41be", "cart-recovery", 3, "wait-for-order", 1772409600.123, timer=4)
    }
    assert len(encode(with_run)) - len(encode(base)) <= 60


def test_damaged_or_newer_states_are_refused_with_what_to_do() -> None:
    with pytest.raises(StateUnreadable, match="customer c4 cannot be read"):
        decode("c4", b"\xc1garbage")
    newer = bytearray(encode(Customer("c4")))
    newer[1] = 99  # the format number, right after the array header
    with pytest.raises(StateUnreadable, match="format 99"):
        decode("c4", bytes(newer))


def test_the_time_a_run_entered_its_node_comes_back() -> None:
    c = Customer("c5")
    moved = Run("r1", "welcome", 2, "watch", 1772409600.25, "A", 7, since=1772496000.5)
    c.runs = {"r1": moved, "r2": Run("r2", "cart", 1, "email", 1772409601.5)}
    back = decode("c5", encode(c))
    assert back.runs["r1"].since == 1772496000.5
    assert back.runs["r2"].since == back.runs["r2"].entered_at  # stored as nothing: it is the entry time
    unknown = Run("r3", "cart", 1, "email", 1772409602.5)
    unknown.since = None
    c.runs = {"r3": unknown}
    assert decode("c5", encode(c)).runs["r3"].since is None


def test_states_written_before_the_time_in_node_was_kept_are_read() -> None:
    # Format 1: runs were [id, journey, version, node, entered_at, timer, variant?, vars?].
    runs = [
        ["r1", "welcome", 2, "watch", 1772409600.25, 7, "A", {"offer": "ten"}],
        ["r2", "cart", 1, "x", 5.0, 0],
    ]
    blob = msgpack.packb([1, {"plan": "pro"}, {}, [], [], runs, {}, {}, {}, [], [], 7], use_bin_type=True)
    back = decode("c6", blob)
    assert back.runs["r1"].variant == "A" and back.runs["r1"].vars == {"offer": "ten"}
    assert back.runs["r1"].timer == 7 and back.runs["r2"].variant is None
    assert back.runs["r1"].since is None and back.runs["r2"].since is None  # not known
