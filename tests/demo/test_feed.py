"""The population cut into simulated hours: customers' events as Segment batches, the runtime's own
inputs for the log, nothing lost and nothing out of its hour."""

from __future__ import annotations

import orjson
import pytest

from rumbo.demo.errors import DemoError
from rumbo.demo.feed import BATCH, hourly
from rumbo.demo.population import Population
from rumbo.identity.graph import customer_id
from rumbo.identity.identifiers import USER_ID, identifier
from rumbo.replay.virtual import event_time

START = 1_772_409_600.0


def test_every_message_lands_in_its_hour_once() -> None:
    messages = list(Population(150, 5, START, seed=2).messages())
    slices = list(hourly(messages, START, START + 5 * 86400))
    assert len(slices) == 5 * 24
    posted = []
    for piece in slices:
        for body in piece.batches:
            batch = orjson.loads(body)["batch"]
            assert 0 < len(batch) <= BATCH
            assert all(event_time(m) < piece.end for m in batch)
            assert all(event_time(m) >= piece.end - 3600 for m in batch if piece.end > START + 3600)
            posted += batch
        for event in piece.runtime:
            body = orjson.loads(event.body)
            assert body["type"].startswith("rumbo:")
            assert event.customer == customer_id(identifier(USER_ID, body["userId"]))
            assert event.at < piece.end
    runtime = sum(len(piece.runtime) for piece in slices)
    assert len(posted) + runtime == len(messages)
    assert {m["messageId"] for m in posted} == {
        m["messageId"] for m in messages if not m["type"].startswith("rumbo:")
    }
    assert all(isinstance(m["timestamp"], str) for m in posted)  # ISO 8601, as SDKs send it


def test_a_message_after_the_last_hour_is_an_error() -> None:
    late = {"type": "track", "event": "x", "userId": "u", "messageId": "m", "timestamp": START + 7200}
    with pytest.raises(DemoError, match="1 messages fall after the demo's last hour"):
        list(hourly([late], START, START + 3600))
