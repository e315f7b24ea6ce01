"""The runtime end to end: `rumbo serve` on SQLite with the example journeys live, fed over HTTP in batches of
100 events by a bounded load generator on 127.0.0.1, against a floor measured in the same run.

* sustained events/s from HTTP accept through the engine to committed state (the clock stops when the
  worker has processed every event), for rumbo and for the floor: a bare endpoint in the same server stack
  that parses and discards the same batches; the ratio rumbo / floor;
* latency at 10,000 events/s offered: per event, from the API accepting it (`received_at`) to the worker tick
  that committed it (`processed_at`), p50/p99;
* stored run state: bytes per waiting run in the SQLite state blobs;
* the same throughput on PostgreSQL (one worker), when RUMBO_BENCH_DATABASE_URL or the local server is up;
* for each throughput run, the processor time (user + system) the server process spent from the first batch
  to the drained log, per event: on a shared machine a steadier figure than the rate.

With `--reference DIR` (a checkout of another rumbo, e.g. `git worktree add /tmp/ref main`), each throughput
run is made for that rumbo too, alternating with this one `--rounds` times, and the processor time per event
is given as a ratio this / reference: a before/after measured in the same conditions.

Run: .venv/bin/python bench/runtime.py [--events 40000] [--reference DIR [--rounds 3]] [--no-latency]
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
from collections.abc import Callable
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
from tests.peers import free_port, printed_write_key, wait_healthy

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


def serve(
    home: Path, env_extra: dict[str, str], source: Path | None = None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """`rumbo serve` on `home`: this checkout's rumbo, or the one in `source` (put first on the path; the
    process starts in that folder, since `python -m` puts the working folder before PYTHONPATH)."""
    port = free_port()
    log = home.parent / f"serve-{port}.log"
    env = {**os.environ, "RUMBO_HOME": str(home)}
    env.pop("RUMBO_DATABASE_URL", None)
    env.update(env_extra)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    command = [sys.executable, "-m", "rumbo", "serve", "--port", str(port), "--journeys",
               str(example_journeys()), "--log-level", "warning"]  # fmt: skip
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=source or Path.cwd()
        )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    return process, url, printed_write_key(log)


def cpu_seconds(pid: int) -> float:
    """Processor time (user + system) a process has used so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drained(store: SqlStore, total: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = store._query("SELECT COUNT(*) FROM events WHERE processed_at IS NULL")[0][0]
        done = store._query("SELECT COUNT(*) FROM events")[0][0]
        if left == 0 and done >= total:
            return time.perf_counter()
        time.sleep(0.05)
    raise RuntimeError("the worker did not drain")


def measure_rumbo(
    bodies: list[bytes], total: int, env: dict[str, str], open_store: Any, source: Path | None = None
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "data"
        process, url, key = serve(home, env, source)
        try:
            store = open_store(home)
            cpu = cpu_seconds(process.pid)
            start = time.perf_counter()
            send(url, bodies, (key, ""))
            end = drained(store, total)
            cpu = cpu_seconds(process.pid) - cpu
            rate = total / (end - start)
            return {"rate": rate, "cpu_ms": cpu / total * 1000, **run_bytes(store)}
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


def compared(label: str, measure: Any, reference: Path | None, rounds: int) -> dict[str, float]:
    """Measure this rumbo (and the reference, alternating, when given); print each run; return this rumbo's
    median run."""
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    for _ in range(rounds if reference is not None else 1):
        if reference is not None:
            theirs.append(measure(reference))
            print(f"  {label}, reference: {theirs[-1]['rate']:>8,.0f} events/s, "
                  f"{theirs[-1]['cpu_ms']:.3f} ms of processor time per event")  # fmt: skip
        ours.append(measure(None))
        print(f"  {label}, this rumbo: {ours[-1]['rate']:>8,.0f} events/s, "
              f"{ours[-1]['cpu_ms']:.3f} ms of processor time per event")  # fmt: skip
    mine = median_run(ours)
    if theirs:
        ref = median_run(theirs)
        print(f"  {label}: processor time per event this / reference {mine['cpu_ms'] / ref['cpu_ms']:.2f} "
              f"(medians {mine['cpu_ms']:.3f} / {ref['cpu_ms']:.3f} ms); "
              f"rate this / reference {mine['rate'] / ref['rate']:.2f}")  # fmt: skip
    return mine


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return sorted(runs, key=lambda r: r["cpu_ms"])[len(runs) // 2]


def postgres() -> tuple[Callable[[], tuple[dict[str, str], Any]], Callable[[], None]] | None:
    """A maker of fresh schemas on the benchmark's PostgreSQL (each run starts empty) and a cleanup that drops
    them; None when the server is not reachable."""
    import psycopg

    url = os.environ.get("RUMBO_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None
    schemas: list[str] = []

    def fresh() -> tuple[dict[str, str], Any]:
        schema = f"rumbo_bench_{uuid.uuid4().hex[:8]}"
        admin.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"

        def open_store(home: Path) -> SqlStore:
            from rumbo.store.postgres import PostgresStore

            return PostgresStore(url, schema=schema)

        return {"RUMBO_DATABASE_URL": scoped}, open_store

    def cleanup() -> None:
        for schema in schemas:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()

    return fresh, cleanup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--latency-events", type=int, default=60_000)
    parser.add_argument("--no-latency", action="store_true", help="skip the latency run")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL run")
    parser.add_argument("--reference", type=Path, help="another rumbo checkout to measure alongside")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs each with --reference")
    args = parser.parse_args()
    from rumbo.store.sqlite import SqliteStore

    reference = args.reference.resolve() if args.reference else None
    bodies = batches(args.events)
    total = sum(len(orjson.loads(b)["batch"]) for b in bodies)
    print(f"{total:,} events in {len(bodies)} batches of {BATCH}, example journeys live")
    floor = measure_floor(bodies, total)
    print(f"floor (parse and discard):        {floor:>10,.0f} events/s")
    sqlite = compared(
        "SQLite",
        lambda source: measure_rumbo(bodies, total, {}, SqliteStore.open, source),
        reference,
        args.rounds,
    )
    print(f"rumbo on SQLite, accept→committed: {sqlite['rate']:>10,.0f} events/s   "
          f"ratio to floor {sqlite['rate'] / floor:.2f}   target 20,000; "
          f"{sqlite['cpu_ms']:.3f} ms of processor time per event")  # fmt: skip
    print(f"stored run state: {sqlite['bytes_per_run']:.0f} bytes per waiting run "
          f"({sqlite['runs']:,.0f} runs)   target ≤ 100")  # fmt: skip
    if not args.no_latency:
        latency_bodies = batches(args.latency_events)
        latency_total = sum(len(orjson.loads(b)["batch"]) for b in latency_bodies)
        lat = measure_latency(latency_bodies, latency_total, 10_000)
        print(f"latency at 10,000 events/s offered: p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms "
              "(accept → the worker tick that committed it)   target p99 ≤ 50 ms")  # fmt: skip
    pg = None if args.no_postgres else postgres()
    if pg is None:
        print("PostgreSQL: not measured; set RUMBO_BENCH_DATABASE_URL to measure it")
        return
    fresh, cleanup = pg
    try:
        result = compared(
            "PostgreSQL",
            lambda source: measure_rumbo(bodies, total, *fresh(), source),
            reference,
            args.rounds,
        )
    finally:
        cleanup()
    print(f"rumbo on PostgreSQL, one worker:   {result['rate']:>10,.0f} events/s   target 10,000 per worker; "
          f"{result['cpu_ms']:.3f} ms of processor time per event")  # fmt: skip


if __name__ == "__main__":
    main()
