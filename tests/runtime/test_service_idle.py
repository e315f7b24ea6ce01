"""`Service.wait_idle` on a clock the caller moves: what was appended before the call is processed when it
returns, and timers due at the new time have fired (accelerated time, as `rumbo demo` runs it)."""

from __future__ import annotations

from pathlib import Path

import orjson

from rumbo.runtime.service import Service, ServiceConfig
from rumbo.store.base import NewEvent

JOURNEY = """
journey: nudge
events: {signed_up: {}}
entry: {event: signed_up}
nodes:
  pause: {wait: {for: 1h}, next: done}
  done: {exit: {}}
"""
START = 1_772_409_600.0


def _signup(customer: str, at: float) -> NewEvent:
    body = {"type": "track", "event": "signed_up", "userId": customer, "messageId": f"m-{customer}"}
    return NewEvent(f"m-{customer}", customer, at, at, orjson.dumps(body))


def test_wait_idle_returns_once_events_and_due_timers_are_processed(tmp_path: Path) -> None:
    (tmp_path / "nudge.yaml").write_text(JOURNEY)
    now = [START]
    # A long idle sleep: only the wake in wait_idle can get the worker going again in time.
    config = ServiceConfig(home=tmp_path / "data", journeys=[tmp_path / "nudge.yaml"], idle_sleep=3600)
    service = Service(config, clock=lambda: now[0])
    service.start()
    try:
        store = service.connect()
        assert service.created is not None
        workspace = service.created.workspace
        store.append_events(workspace, [_signup(f"c{i}", START) for i in range(700)])
        assert service.wait_idle(timeout=120)
        assert store._query("SELECT COUNT(*) FROM events WHERE processed_at IS NULL")[0][0] == 0
        assert store._query("SELECT COUNT(*) FROM timers")[0][0] == 700  # one hour's wait each

        now[0] = START + 1800  # half an hour on: no timer is due yet
        assert service.wait_idle(timeout=120)
        assert store._query("SELECT COUNT(*) FROM timers")[0][0] == 700

        now[0] = START + 3600
        assert service.wait_idle(timeout=120)
        assert store._query("SELECT COUNT(*) FROM timers")[0][0] == 0
        moved = [
            orjson.loads(body)
            for (body,) in store._query("SELECT body FROM records WHERE kind = 'transition'")
        ]
        assert sum(1 for t in moved if t["to_node"] == "done" and t["at"] == START + 3600) == 700
        store.close()
    finally:
        service.stop()


def test_wait_idle_times_out_without_a_worker(tmp_path: Path) -> None:
    service = Service(ServiceConfig(home=tmp_path / "data", worker=False))
    service.start()
    try:
        assert service.wait_idle(timeout=0.2) is False
    finally:
        service.stop()
