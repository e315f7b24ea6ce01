"""Store throughput: the event log and committed steps, on SQLite and (when reachable) PostgreSQL.

Workload: EVENTS Segment-like track events (~400 bytes each) for CUSTOMERS customers, in batches of 100.
- *append*: `append_events` of each batch (one durable transaction, dedup flag per event). Floor in the
  same run: the same rows inserted into the same table with the driver's `executemany` in one transaction
  per batch — no per-event flag.
- *steps*: a worker loop without the engine — pending customers → their next events → one Step per
  customer (a ~100-byte state, the events marked processed, one timer, one transition record, an outbox
  entry for every tenth) → `commit_steps` per 100 customers. Floor: the same writes with `executemany`,
  one transaction per batch, no version checks. Also `commit_step` one customer per transaction, to show
  what batching buys.

    .venv/bin/python bench/store.py [--events 20000] [--customers 2000]

PostgreSQL comes from RUMBO_DATABASE_URL, else RUMBO_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/test; each run uses schemas of its own and drops them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from rumbo.engine.commands import ScheduleTimer
from rumbo.records import Transition, record_to_dict
from rumbo.store import NewEvent, OutboxEntry, Step, StoredEvent
from rumbo.store.errors import StoreUnavailable
from rumbo.store.sql import SqlStore
from rumbo.store.sqlite import SqliteStore

WS = "bench"
BATCH = 100
T0 = 1_772_438_400.0
STATE = bytes(range(100))


def make_events(count: int, customers: int) -> list[NewEvent]:
    events = []
    for i in range(count):
        customer = f"user-{i % customers:06d}"
        message_id = f"m-{i:09d}"
        body = {
            "type": "track",
            "event": "product_viewed",
            "messageId": message_id,
            "userId": customer,
            "timestamp": "2026-03-02T08:00:00Z",
            "properties": {"sku": f"sku-{i % 997}", "price": 19.99, "category": "shoes", "currency": "EUR"},
            "context": {"library": {"name": "analytics-python", "version": "2.3.2"}, "ip": "203.0.113.7"},
        }
        events.append(NewEvent(message_id, customer, T0 + i, T0 + i + 0.5, orjson.dumps(body)))
    return events


def batches(items: list[NewEvent], size: int = BATCH) -> Iterator[list[NewEvent]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def make_step(customer: str, events: list[StoredEvent], expected: int, n: int) -> Step:
    last = events[-1]
    record = Transition(
        WS, customer, "browse", 1, f"run-{customer}", "wait", "email", "event", last.message_id, last.at
    )
    outbox = (
        [OutboxEntry(f"browse:1:email:{customer}:{last.message_id}", "send", b"{}")] if n % 10 == 0 else []
    )
    return Step(
        WS,
        customer,
        expected,
        STATE,
        last.at,
        processed=[e.seq for e in events],
        timers=[ScheduleTimer(customer, f"run-{customer}", n + 1, last.at + 3600.0, "wait")],
        outbox=outbox,
        records=[record],
    )


def run_steps(store: SqlStore, batched: bool) -> int:
    """Process every pending event; return how many events were consumed."""
    versions: dict[str, int] = {}
    consumed = 0
    n = 0
    while customers := store.pending_customers(WS, limit=BATCH):
        events = store.next_events(WS, customers, limit=1000)
        by_customer: dict[str, list[StoredEvent]] = {}
        for e in events:
            by_customer.setdefault(e.customer, []).append(e)
        steps = []
        for customer, mine in by_customer.items():
            n += 1
            steps.append(make_step(customer, mine, versions.get(customer, 0), n))
            consumed += len(mine)
        results = store.commit_steps(steps) if batched else [store.commit_step(s) for s in steps]
        for s, result in zip(steps, results, strict=True):
            assert isinstance(result, int), result
            versions[s.customer] = result
    return consumed


def floor_append(store: SqlStore, events: list[NewEvent]) -> None:
    cursor = store._cursor()
    sql = store._sql(
        "INSERT INTO events (workspace, customer, message_id, at, received_at, body) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (workspace, message_id) DO NOTHING"
    )
    for batch in batches(events):
        cursor.execute(store.begin_write)
        cursor.executemany(sql, [(WS, e.customer, e.message_id, e.at, e.received_at, e.body) for e in batch])  # type: ignore[attr-defined]
        cursor.execute("COMMIT")


def floor_steps(store: SqlStore) -> int:
    """The steps' writes with executemany and no checks, one transaction per batch of customers."""
    cursor = store._cursor()
    q = store._sql
    consumed = 0
    n = 0
    while customers := store.pending_customers(WS, limit=BATCH):
        events = store.next_events(WS, customers, limit=1000)
        by_customer: dict[str, list[StoredEvent]] = {}
        for e in events:
            by_customer.setdefault(e.customer, []).append(e)
        steps = []
        for customer, mine in by_customer.items():
            n += 1
            steps.append(make_step(customer, mine, 0, n))
            consumed += len(mine)
        cursor.execute(store.begin_write)
        cursor.executemany(  # type: ignore[attr-defined]
            q(
                "INSERT INTO customer_state (workspace, customer, version, state, updated_at) "
                "VALUES (?, ?, 1, ?, ?) "
                "ON CONFLICT (workspace, customer) DO UPDATE SET version = customer_state.version + 1, "
                "state = excluded.state, updated_at = excluded.updated_at"
            ),
            [(WS, s.customer, s.state, s.at) for s in steps],
        )
        cursor.executemany(  # type: ignore[attr-defined]
            q("UPDATE events SET processed_at = ? WHERE workspace = ? AND seq = ?"),
            [(s.at, WS, seq) for s in steps for seq in s.processed],
        )
        cursor.executemany(  # type: ignore[attr-defined]
            q("INSERT INTO timers (workspace, customer, run, token, due_at, kind) VALUES (?, ?, ?, ?, ?, ?)"),
            [(WS, s.customer, t.run, t.token, t.at, t.kind) for s in steps for t in s.timers],
        )
        outbox = [(WS, o.key, s.customer, o.kind, o.body, s.at, s.at) for s in steps for o in s.outbox]
        if outbox:
            cursor.executemany(  # type: ignore[attr-defined]
                q(
                    "INSERT INTO outbox (workspace, key, customer, kind, body, status, created_at, due_at) "
                    "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)"
                ),
                outbox,
            )
        cursor.executemany(  # type: ignore[attr-defined]
            q("INSERT INTO records (workspace, customer, kind, at, body) VALUES (?, ?, 'transition', ?, ?)"),
            [
                (WS, s.customer, r.at, orjson.dumps(record_to_dict(r)).decode())
                for s in steps
                for r in s.records
            ],
        )
        cursor.execute("COMMIT")
    return consumed


def line(label: str, rate: float, floor_rate: float) -> None:
    ratio = rate / floor_rate
    print(f"  {label:<13} {rate:>10,.0f} events/s   floor {floor_rate:>10,.0f} events/s   ratio {ratio:.2f}")


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(name: str, open_fresh: Callable[[], SqlStore], events: list[NewEvent], single: int) -> None:
    print(f"\n{name}: {len(events):,} events, batches of {BATCH}")
    store, floor = open_fresh(), open_fresh()
    for s in (store, floor):
        s.upgrade()
    t_store = timed(lambda: [store.append_events(WS, b) for b in batches(events)])
    t_floor = timed(lambda: floor_append(floor, events))
    rate, floor_rate = len(events) / t_store, len(events) / t_floor
    line("append", rate, floor_rate)

    consumed = 0

    def steps() -> None:
        nonlocal consumed
        consumed = run_steps(store, batched=True)

    t_store = timed(steps)
    floor_consumed = 0

    def floors() -> None:
        nonlocal floor_consumed
        floor_consumed = floor_steps(floor)

    t_floor = timed(floors)
    assert consumed == floor_consumed == len(events), (consumed, floor_consumed)
    rate, floor_rate = consumed / t_store, floor_consumed / t_floor
    line("commit_steps", rate, floor_rate)

    one = open_fresh()
    one.upgrade()
    few = events[:single]
    for b in batches(few):
        one.append_events(WS, b)
    t_one = timed(lambda: run_steps(one, batched=False))
    print(
        f"  commit_step   {single / t_one:>10,.0f} events/s   (a transaction per customer, {single:,} events)"
    )
    for s in (store, floor, one):
        s.close()


def postgres_opener() -> tuple[Callable[[], SqlStore], Callable[[], None]] | None:
    import psycopg
    from psycopg import sql

    from rumbo.store.postgres import PostgresStore

    url = (
        os.environ.get("RUMBO_DATABASE_URL")
        or os.environ.get("RUMBO_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"\nPostgreSQL: skipped, not reachable at {url} ({str(exc).strip()})")
        return None
    schemas: list[str] = []

    def open_fresh() -> SqlStore:
        schema = f"rumbo_bench_{uuid.uuid4().hex[:10]}"
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        schemas.append(schema)
        return PostgresStore(url, schema=schema)

    def cleanup() -> None:
        for schema in schemas:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        admin.close()

    return open_fresh, cleanup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--single", type=int, default=2_000, help="events for the one-step-per-commit figure")
    args = parser.parse_args()
    events = make_events(args.events, args.customers)
    print(f"python {sys.version.split()[0]}, {args.customers:,} customers")

    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1_000))
        measure(
            "SQLite (WAL, synchronous=FULL)",
            lambda: SqliteStore(Path(tmp) / f"bench-{next(counter)}.db"),
            events,
            args.single,
        )
    try:
        opener = postgres_opener()
    except StoreUnavailable as exc:
        print(f"PostgreSQL: skipped ({exc})")
        opener = None
    if opener is not None:
        open_fresh, cleanup = opener
        try:
            measure("PostgreSQL (one connection, one worker)", open_fresh, events, args.single)
        finally:
            cleanup()


if __name__ == "__main__":
    main()
