"""The archive feed on every store: rows in commit order up to the horizon, and cursors held under leases."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import psycopg

from rumbo.records import Conversion, Transition
from rumbo.store import NewEvent, Step
from rumbo.store.archive_feed import ArchiveFeed, Position
from rumbo.store.postgres import PostgresStore
from rumbo.store.sql import SqlStore
from tests.store.conftest import database_url

Factory = Callable[[], SqlStore]
WS, OTHER = "acme", "globex"
START = Position()


def settle(store: SqlStore, timeout: float = 60.0) -> None:
    """Wait until the horizon has passed every row written so far. SQLite: at once. PostgreSQL: once the
    server's writing transactions that began before the last row (other tests' too: the horizon is the
    server's) have ended — they are short; the wait only fails if one stays open for a minute."""
    feed = ArchiveFeed(store)
    deadline = time.monotonic() + timeout
    for kind, table, ident in (("event", "events", "seq"), ("transition", "records", "id")):
        last = store._query(f"SELECT txid, {ident} FROM {table} ORDER BY txid DESC, {ident} DESC LIMIT 1")
        newest = Position(int(last[0][0]), int(last[0][1])) if last else START
        while feed.horizon(kind) < newest:
            assert time.monotonic() < deadline, f"a transaction on the server held the {table} horizon back"
            time.sleep(0.05)


def event(message_id: str, customer: str = "u1", at: float = 100.0) -> NewEvent:
    return NewEvent(
        message_id, customer, at, at + 1, orjson.dumps({"messageId": message_id, "type": "track"})
    )


def transition(customer: str, at: float) -> Transition:
    return Transition(WS, customer, "cart", 1, f"run-{customer}", None, "start", "entered", "m1", at)


def test_rows_come_in_commit_order_per_workspace_and_kind_up_to_the_horizon(store: SqlStore) -> None:
    for ws in (WS, OTHER):
        store.create_workspace(ws, at=0)
    store.append_events(WS, [event("a"), event("b", "u2")])
    store.append_events(OTHER, [event("x")])
    store.append_events(WS, [event("c")])
    store.commit_step(Step(WS, "u1", 0, b"s", 200.0, records=[transition("u1", 200.0)]))
    conversion = Conversion(WS, "u1", "cart", 1, "run-u1", "order_completed", 30.0, 210.0)
    store.commit_step(Step(WS, "u1", 1, b"s", 210.0, records=[conversion]))
    settle(store)
    feed = ArchiveFeed(store)

    horizon = feed.horizon("event")
    rows = feed.rows(WS, "event", START, horizon)
    assert [orjson.loads(r.body)["messageId"] for r in rows] == ["a", "b", "c"]
    assert [r.customer for r in rows] == ["u1", "u2", "u1"]
    assert [r.position for r in rows] == sorted(r.position for r in rows)
    assert all(r.received_at == r.at + 1 for r in rows)
    assert feed.rows(WS, "event", rows[0].position, horizon, limit=1) == [rows[1]]
    assert feed.rows(WS, "event", rows[-1].position, horizon) == []
    assert [orjson.loads(r.body)["messageId"] for r in feed.rows(OTHER, "event", START, horizon)] == ["x"]

    records = feed.horizon("transition")
    (moved,) = feed.rows(WS, "transition", START, records)
    assert orjson.loads(moved.body)["to_node"] == "start" and moved.received_at is None
    (converted,) = feed.rows(WS, "conversion", START, records)
    assert orjson.loads(converted.body)["value"] == 30.0
    assert feed.rows(WS, "decision", START, records) == []


def test_a_cursor_is_held_by_one_exporter_until_it_lets_go_or_its_lease_runs_out(store: SqlStore) -> None:
    store.create_workspace(WS, at=0)
    store.append_events(WS, [event("a"), event("b")])
    settle(store)
    feed = ArchiveFeed(store)
    cursor = feed.claim(WS, "event", "one", now=1000.0, lease=60.0)
    assert cursor is not None and cursor.position == START and cursor.pending is None
    assert feed.claim(WS, "event", "two", now=1010.0, lease=60.0) is None
    assert feed.claim(WS, "transition", "two", now=1010.0, lease=60.0) is not None  # kinds are apart

    end = feed.rows(WS, "event", START, feed.horizon("event"))[-1].position
    assert feed.begin(cursor, "one", end, now=1020.0, lease=60.0)
    assert not feed.advance(cursor, "two", end, rows=2, now=1020.0, lease=60.0)  # not two's to move
    (held,) = [c for c in feed.cursors(WS) if c.kind == "event"]
    assert held.pending == end and held.owner == "one" and held.position == START

    taken = feed.claim(WS, "event", "two", now=1081.0, lease=60.0)  # one's lease, renewed at 1020, ran out
    assert taken is not None and taken.pending == end and taken.owner == "two"
    assert not feed.advance(cursor, "one", end, rows=2, now=1082.0, lease=60.0)  # one lost it
    assert feed.advance(taken, "two", end, rows=2, now=1082.0, lease=60.0)
    feed.release(WS, "event", "two")
    (done,) = [c for c in feed.cursors(WS) if c.kind == "event"]
    assert (done.position, done.pending, done.exported, done.owner) == (end, None, 2, None)
    assert feed.claim(WS, "event", "three", now=1083.0, lease=60.0) is not None


def test_postgresql_exports_nothing_a_running_transaction_may_still_put_below_it(
    postgres_factory: Factory,
) -> None:
    """A seq drawn by a transaction that commits late is lower than seqs already visible: the horizon stops
    below that transaction until it ends, so the cursor can never pass its rows."""
    store = postgres_factory()
    store.upgrade()
    store.create_workspace(WS, at=0)
    assert isinstance(store, PostgresStore)
    schema = store._schema
    late = psycopg.connect(database_url(), autocommit=False)
    try:
        late.execute(f"SET search_path TO {schema}")
        late.execute(
            "INSERT INTO events (workspace, customer, message_id, at, received_at, body) "
            "VALUES (%s, 'u1', 'late', 1, 1, %s)",
            (WS, orjson.dumps({"messageId": "late", "type": "track"})),
        )
        store.append_events(WS, [event("early")])  # a higher seq, committed first
        feed = ArchiveFeed(store)
        seen = feed.rows(WS, "event", START, feed.horizon("event"))
        assert seen == []  # "early" waits behind the transaction still running
        late.commit()
    finally:
        late.close()
    settle(store)
    rows = feed.rows(WS, "event", START, feed.horizon("event"))
    assert [orjson.loads(r.body)["messageId"] for r in rows] == ["late", "early"]
