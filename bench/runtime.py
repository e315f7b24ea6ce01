"""The runtime end to end: `rumbo serve` on SQLite with the example journeys live, fed over HTTP in batches of
100 events by a bounded load generator on 127.0.0.1, against a floor measured in the same run.

* sustained events/s from HTTP accept through the engine to committed state (the clock stops when the
  worker has processed every event), for rumbo and for the floor: a bare endpoint in the same server stack
  that parses and discards the same batches; the ratio rumbo / floor;
* latency at 10,000 events/s offered: per event, from the API accepting it (`received_at`) to the worker tick
  that committed it (`processed_at`), p50/p99;
* stored run state: bytes per waiting run in the SQLite state blobs;
* the same throughput on PostgreSQL (one worker), when RUMBO_BENCH_DATABASE_URL or the local server is up.

Run: .venv/bin/python bench/runtime.py [--events 40000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' local peers

from rumbo.demo.population import Population
from rumbo.demo.run import START, example_journeys
from rumbo.runtime.codec import decode, encode
from rumbo.runtime.intake import iso
from rumbo.store.sql import SqlStore
from tests.peers import free_port, printed_write_key, start_serve, wait_healthy

BATCH = 100
FLOOR_APP = """
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
app = FastAPI()
@app.post("/v1/batch")
async def batch(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(b'{"success":true}', media_type="application/json")
@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""


def batches(events: int) -> list[bytes]:
    """Realistic traffic for the example journeys (the demo's population), in time order, as SDK batches."""
    population = Population(max(200, events // 30), 60, START, seed=11)
    messages = []
    for message in population.messages():
        if str(message.get("type", "")).startswith("rumbo:"):
            continue  # segment and schedule lines stand for what the runtime makes itself
        message["timestamp"] = iso(float(message["timestamp"]))
        messages.append(message)
        if len(messages) >= events:
            break
    messages.sort(key=lambda m: str(m["timestamp"]))
    return [orjson.dumps({"batch": messages[i : i + BATCH]}) for i in range(0, len(messages), BATCH)]


def send(
    url: str, bodies: list[bytes], auth: tuple[str, str], threads: int = 4, rate: float | None = None
) -> float:
    """Post every body (at `rate` batches/s when given); return the seconds it took."""
    lock, position, failures = threading.Lock(), [0], []
    start = time.perf_counter()

    def loop() -> None:
        with httpx.Client(base_url=url, auth=auth, timeout=30) as client:
            while True:
                with lock:
                    i = position[0]
                    position[0] += 1
                if i >= len(bodies):
                    return
                if rate is not None:
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                answer = client.post(
                    "/v1/batch", content=bodies[i], headers={"Content-Type": "application/json"}
                )
                if answer.status_code != 200:
                    failures.append(f"batch {i}: {answer.status_code} {answer.text[:300]}")
                    return

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise RuntimeError(failures[0])
    return time.perf_counter() - start


def serve(home: Path, env_extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    log = home.parent / f"serve-{port}.log"
    process = start_serve(home, port, example_journeys(), log, env_extra)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    return process, url, printed_write_key(log)


def drained(store: SqlStore, total: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = store._query("SELECT COUNT(*) FROM events WHERE processed_at IS NULL")[0][0]
        done = store._query("SELECT COUNT(*) FROM events")[0][0]
        if left == 0 and done >= total:
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError("the worker did not drain")


def measure_rumbo(bodies: list[bytes], total: int, env: dict[str, str], open_store: Any) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "data"
        process, url, key = serve(home, env)
        try:
            store = open_store(home)
            start = time.perf_counter()
            send(url, bodies, (key, ""))
            end = drained(store, total)
            rate = total / (end - start)
            return {"rate": rate, **run_bytes(store)}
        finally:
            process.kill()
            process.wait()


def measure_latency(bodies: list[bytes], total: int, events_per_second: float) -> dict[str, float]:
    from rumbo.store.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "data"
        process, url, key = serve(home, {})
        try:
            store = SqliteStore.open(home)
            send(url, bodies, (key, ""), rate=events_per_second / BATCH)
            drained(store, total)
            lags = sorted(p - r for (p, r) in store._query("SELECT processed_at, received_at FROM events"))
            return {
                "p50_ms": lags[len(lags) // 2] * 1000,
                "p99_ms": lags[int(len(lags) * 0.99)] * 1000,
            }
        finally:
            process.kill()
            process.wait()


def run_bytes(store: SqlStore) -> dict[str, float]:
    runs = marginal = 0
    for customer, state in store._query("SELECT customer, state FROM customer_state"):
        c = decode(customer, bytes(state))
        n = len(c.runs)
        if n:
            runs += n
            bare = c.copy()
            bare.runs = {}
            marginal += len(bytes(state)) - len(encode(bare))
    return {"runs": runs, "bytes_per_run": marginal / runs if runs else 0.0}


def measure_floor(bodies: list[bytes], total: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "floor_app.py"
        app.write_text(FLOOR_APP)
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "floor_app:app", "--port", str(port), "--log-level", "warning"],
            cwd=tmp,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, process)
            seconds = send(url, bodies, ("k", ""))
            return total / seconds
        finally:
            process.kill()
            process.wait()


def postgres_env() -> tuple[dict[str, str], Any] | None:
    import psycopg

    url = os.environ.get("RUMBO_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None
    schema = f"rumbo_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"

    def open_store(home: Path) -> SqlStore:
        from rumbo.store.postgres import PostgresStore

        return PostgresStore(url, schema=schema)

    return {"RUMBO_DATABASE_URL": scoped}, open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--latency-events", type=int, default=60_000)
    args = parser.parse_args()
    from rumbo.store.sqlite import SqliteStore

    bodies = batches(args.events)
    total = sum(len(orjson.loads(b)["batch"]) for b in bodies)
    print(f"{total:,} events in {len(bodies)} batches of {BATCH}, example journeys live")
    floor = measure_floor(bodies, total)
    print(f"floor (parse and discard):        {floor:>10,.0f} events/s")
    sqlite = measure_rumbo(bodies, total, {}, SqliteStore.open)
    print(f"rumbo on SQLite, accept→committed: {sqlite['rate']:>10,.0f} events/s   "
          f"ratio to floor {sqlite['rate'] / floor:.2f}   target 20,000")  # fmt: skip
    print(f"stored run state: {sqlite['bytes_per_run']:.0f} bytes per waiting run "
          f"({sqlite['runs']:,.0f} runs)   target ≤ 100")  # fmt: skip
    latency_bodies = batches(args.latency_events)
    latency_total = sum(len(orjson.loads(b)["batch"]) for b in latency_bodies)
    lat = measure_latency(latency_bodies, latency_total, 10_000)
    print(f"latency at 10,000 events/s offered: p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms "
          "(accept → the worker tick that committed it)   target p99 ≤ 50 ms")  # fmt: skip
    pg = postgres_env()
    if pg is None:
        print("PostgreSQL: not reachable; set RUMBO_BENCH_DATABASE_URL to measure it")
        return
    env, open_store = pg
    result = measure_rumbo(bodies, total, env, open_store)
    print(f"rumbo on PostgreSQL, one worker:   {result['rate']:>10,.0f} events/s   target 10,000 per worker")


if __name__ == "__main__":
    main()
