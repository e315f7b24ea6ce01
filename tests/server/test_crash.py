"""Kill `rumbo serve` with SIGKILL at random moments during a sustained ingest, 20 times: every acknowledged
event is processed exactly once, no run is duplicated, and timers due while it was down fire after restart."""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from rumbo.runtime.codec import decode
from rumbo.store.sqlite import SqliteStore
from tests.peers import free_port, printed_write_key, start_serve, wait_healthy

JOURNEY = """
journey: ping-pong
entry: {event: ping}
reentry: always
concurrent_runs: true
events: {ping: {properties: {n: number}}}
nodes:
  pause: {wait: {for: 1s}, next: answer}
  answer: {send: {channel: webhook, template: pong, transactional: true}, next: done}
  done: {exit: {}}
"""

KILLS = 20


@pytest.mark.slow
def test_sigkill_during_ingest_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "ping.yaml").write_text(JOURNEY)
    home, port, log = tmp_path / "data", free_port(), tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    process = start_serve(home, port, journeys, log)
    try:
        wait_healthy(url, process)
    except BaseException:  # a server that never came up must not outlive the test
        process.kill()
        process.wait()
        raise
    write_key = printed_write_key(log)

    acked: set[str] = set()
    stop = threading.Event()
    counter = iter(range(10**9))

    def send() -> None:
        with httpx.Client(base_url=url, auth=(write_key, ""), timeout=2) as client:
            pending: list[dict[str, object]] = []
            while not stop.is_set():
                if not pending:  # a batch that was not acknowledged is resent as it was
                    pending = [
                        {
                            "type": "track",
                            "userId": f"u{n % 50}",
                            "event": "ping",
                            "messageId": f"m{n}",
                            "properties": {"n": n},
                        }
                        for n in (next(counter) for _ in range(20))
                    ]
                try:
                    answer = client.post("/v1/batch", json={"batch": pending})
                except httpx.HTTPError:
                    time.sleep(0.05)
                    continue
                if answer.status_code == 200:
                    acked.update(str(m["messageId"]) for m in pending)
                    pending = []

    sender = threading.Thread(target=send)
    sender.start()
    rng = random.Random(20261123)
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 0.8))
            process.send_signal(signal.SIGKILL)
            process.wait()
            process = start_serve(home, port, journeys, log)
            wait_healthy(url, process)
        time.sleep(0.5)
        stop.set()
        sender.join()
        # Let the last timers (1 s) fall due and the worker drain.
        store = SqliteStore.open(home)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = store._query("SELECT COUNT(*) FROM events WHERE processed_at IS NULL")[0][0]
            timers = store._query("SELECT COUNT(*) FROM timers")[0][0]
            if left == 0 and timers == 0:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert len(acked) > 200, "the load should have got well going"
    rows = store._query("SELECT message_id, processed_at FROM events WHERE workspace = 'default'")
    stored = {m: p for m, p in rows}
    assert len(stored) == len(rows)
    missing = acked - set(stored)
    assert not missing, f"{len(missing)} acknowledged events were lost"
    assert all(stored[m] is not None for m in acked), "every acknowledged event is processed"
    assert store._query("SELECT COUNT(*) FROM timers")[0][0] == 0, "every timer fired"
    # Exactly once: each ping entered one run, each run was sent to once, and no run is still waiting.
    transitions = [
        r.data
        for c in {c for (c,) in store._query("SELECT customer FROM customer_state")}
        for r in store.records("default", c)
        if r.kind == "transition"
    ]
    entered = [t["run"] for t in transitions if t["cause"] == "entered"]
    assert len(entered) == len(set(entered)) == len(stored)
    sends = store._query("SELECT COUNT(*) FROM outbox")[0][0]
    assert sends == len(stored)
    for customer, blob in store._query("SELECT customer, state FROM customer_state"):
        assert decode(customer, bytes(blob)).runs == {}
    store.close()
