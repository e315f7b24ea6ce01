"""The archive exporter on both stores: everything the store holds reaches each workspace's archive once,
incrementally, and a crash between any two steps neither loses nor repeats a row."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import open_engine
from rumbo.delivery.outcomes import delivery_record, outcome_event
from rumbo.records import Conversion, Decision, Suppression, Transition
from rumbo.runtime.archiver import Archiver, Batch
from rumbo.runtime.intake import merge_message
from rumbo.store import NewEvent, Step
from rumbo.store.archive_feed import ArchiveFeed
from rumbo.store.deliveries import DeliveryStore, SendInfo, Thresholds
from rumbo.store.sql import SqlStore
from tests.store import conftest as stores
from tests.store.test_archive_feed import settle

Factory = Callable[[], SqlStore]

WS, OTHER = "acme", "globex"
EMAIL = {"campaign": {"medium": "email"}}
OFFERS = (("discount10", 0.7), ("free", 0.2))
DAY = 86400.0
T0 = 1_772_409_600.0  # 2026-03-02 00:00 UTC


@pytest.fixture(params=["sqlite", "postgres"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Connections to one fresh database, made as the store tests make them."""
    if request.param == "sqlite":
        yield from stores._sqlite_factory(tmp_path / "rumbo.db")
    else:
        yield from stores._postgres_factory()


@pytest.fixture
def store(connect: Factory) -> SqlStore:
    opened = connect()
    opened.upgrade()
    return opened


class Clock:
    def __init__(self, now: float = 5_000_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def message(message_id: str, user: str, at: float, kind: str = "track", **fields: Any) -> NewEvent:
    body = {"type": kind, "messageId": message_id, "userId": user, "timestamp": at, **fields}
    return NewEvent(message_id, user, at, at + 5, orjson.dumps(body))


def fill(store: SqlStore) -> None:
    """Two workspaces; in acme, events over three days, a merge, every kind of record, delivery outcomes."""
    for ws in (WS, OTHER):
        store.create_workspace(ws, at=0)
    store.append_events(
        WS,
        [
            message("m1", "u1", T0, "identify", traits={"plan": "pro"}),
            message("m2", "u1", T0 + 60, event="cart_abandoned", properties={"value": 60}, context=EMAIL),
            message("m3", "anon", T0 + DAY, "page", properties={"path": "/pricing"}),
            message("m4", "u1", T0 + 2 * DAY, event="order_completed", properties={"revenue": 42.5}),
        ],
    )
    merge = merge_message("u1", "anon", "identify", "m5", T0 + 2 * DAY)
    store.append_events(WS, [NewEvent(merge["messageId"], "u1", T0 + 2 * DAY, T0, orjson.dumps(merge))])
    note = {"type": "rumbo:segments", "messageId": "walk:1:u1", "timestamp": "2026-03-03T00:00:00Z"}
    store.append_events(WS, [NewEvent("walk:1:u1", "u1", T0 + 2 * DAY, T0, orjson.dumps(note))])
    store.append_events(OTHER, [message("g1", "z1", T0, event="signed_up")])
    records = [
        Transition(WS, "anon", "cart", 1, "r1", None, "start", "entered", "m2", T0 + 60, "A"),
        Transition(WS, "anon", "cart", 1, "r1", "start", "offer", "next", "m2", T0 + 61, "A", T0 + 60),
        Decision(WS, "anon", "cart", 1, "r1", "offer", OFFERS, "discount10", "thompson", T0 + 61),
        Suppression(WS, "anon", "cart", 1, "r1", "sms", "sms", "quiet_hours", T0 + 3600, T0 + 62),
        Conversion(WS, "anon", "cart", 1, "r1", "order_completed", 42.5, T0 + 2 * DAY),
    ]
    store.commit_step(Step(WS, "anon", 0, b"state", T0 + 62, records=records))
    # "anon" turns out to be u1: its records and events follow the person.
    store.commit_step(Step(WS, "u1", 0, b"state", T0 + 2 * DAY, absorbs="anon"))
    send = SendInfo("k1", "u1", "cart", 1, "r1", "email", "email", "cart-reminder", "A", None, "mid-1",
                    "sent", 1, 0, None, None)  # fmt: skip
    deliveries = DeliveryStore(store)
    for status, at in (("opened", T0 + DAY + 10), ("clicked", T0 + DAY + 20)):
        event = outcome_event(WS, send, status, at=at, received_at=at)
        deliveries.record_outcome(WS, event, delivery_record(WS, send, status, at), targets=(),
                                  thresholds=Thresholds())  # fmt: skip
    settle(store)


def table(root: Path, ws: str, sql: str) -> pa.Table:
    return open_engine(Archive(root / ws)).query(sql)


def rows(root: Path, ws: str, kind: str) -> list[dict[str, Any]]:
    order = "timestamp" if kind == "event" else '"at"'
    return table(root, ws, f"SELECT * FROM {kind} ORDER BY {order}").to_pylist()


def files(root: Path) -> dict[Path, tuple[int, int]]:
    """Every Parquet file under the root, with what tells a rewrite apart (inode, modification time)."""
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(root.rglob("*.parquet"))}


def test_everything_the_store_holds_reaches_its_workspaces_archive(store: SqlStore, tmp_path: Path) -> None:
    fill(store)
    report = Archiver(store, tmp_path, clock=Clock()).export()
    assert report.errors == []

    events = rows(tmp_path, WS, "event")
    # As received, each with the customer it belongs to now; the runtime's own merge and segment notes are
    # not events.
    assert [(e["messageId"], e["customer"], e["type"], e["event"]) for e in events] == [
        ("m1", "u1", "identify", None),
        ("m2", "u1", "track", "cart_abandoned"),
        ("m3", "u1", "page", None),
        ("delivery:k1:opened", "u1", "track", "message_opened"),
        ("delivery:k1:clicked", "u1", "track", "message_clicked"),
        ("m4", "u1", "track", "order_completed"),
    ]
    assert events[1]["channel"] == "email" and orjson.loads(events[1]["properties"]) == {"value": 60}
    assert events[0]["userId"] == "u1" and orjson.loads(events[0]["traits"]) == {"plan": "pro"}
    assert events[2]["received_at"].timestamp() == T0 + DAY + 5
    assert {e["workspace"] for e in events} == {WS}

    entered, moved = rows(tmp_path, WS, "transition")
    assert [entered[c] for c in ("customer", "to_node", "cause", "variant")] == [
        "u1",
        "start",
        "entered",
        "A",
    ]
    assert entered["since"] is None and moved["since"].timestamp() == T0 + 60  # when it entered `start`
    (decided,) = rows(tmp_path, WS, "decision")
    assert orjson.loads(decided["candidates"]) == [{"offer": o, "score": s} for o, s in OFFERS]
    (held,) = rows(tmp_path, WS, "suppression")
    assert (held["reason"], held["deferred_until"].timestamp()) == ("quiet_hours", T0 + 3600)
    (won,) = rows(tmp_path, WS, "conversion")
    assert (won["customer"], won["value"]) == ("u1", 42.5)
    assert [(d["status"], d["send"], d["variant"]) for d in rows(tmp_path, WS, "delivery")] == [
        ("opened", "k1", "A"),
        ("clicked", "k1", "A"),
    ]
    # globex's folder holds globex's rows alone, and acme's none of globex's.
    assert [(e["workspace"], e["messageId"]) for e in rows(tmp_path, OTHER, "event")] == [(OTHER, "g1")]
    assert rows(tmp_path, OTHER, "transition") == []
    assert report.rows == len(events) + 5 + 2 + 1  # events, engine records, delivery outcomes, globex
    # Events are partitioned by the day they happened.
    assert sorted(p.parent.name for p in (tmp_path / WS / "event").rglob("*.parquet")) == [
        "day=2026-03-02",
        "day=2026-03-03",
        "day=2026-03-04",
    ]


def test_each_round_appends_only_what_is_new(store: SqlStore, tmp_path: Path) -> None:
    fill(store)
    exporter = Archiver(store, tmp_path, batch=2, clock=Clock())
    first = exporter.export()
    before = files(tmp_path)
    assert exporter.export().rows == 0 and files(tmp_path) == before  # nothing new, nothing written
    store.append_events(WS, [message("m9", "u7", T0 + 5 * DAY, event="signed_up")])
    settle(store)
    assert exporter.export().rows == 1
    after = files(tmp_path)
    assert {p: after[p] for p in before} == before and len(after) == len(before) + 1
    counted = table(tmp_path, WS, 'SELECT count(*) AS n, count(DISTINCT "messageId") AS d FROM event')
    assert counted.to_pylist() == [{"n": 7, "d": 7}]
    exported = {c.kind: c.exported for c in ArchiveFeed(store).cursors(WS)}
    assert exported["event"] == 7 and first.rows + 1 == sum(c.exported for c in ArchiveFeed(store).cursors())
    # Batches of two rows: files are named after the range of positions they hold.
    assert all(p.name.startswith("part-") and p.name.count("-") == 2 for p in after)


def pending_batch(store: SqlStore, root: Path, clock: Clock, batch: int) -> tuple[Archiver, Batch]:
    """An exporter `dead` that has claimed acme's events and recorded its first batch as pending."""
    fill(store)
    dead = Archiver(store, root, batch=batch, owner="dead", clock=clock)
    cursor = dead.claim(WS, "event")
    assert cursor is not None
    pending = dead.next_batch(cursor)
    assert pending is not None
    return dead, pending


def test_a_crash_between_writing_the_files_and_moving_the_cursor_loses_and_repeats_nothing(
    store: SqlStore, tmp_path: Path
) -> None:
    clock = Clock()
    dead, batch = pending_batch(store, tmp_path, clock, batch=3)
    written, count = dead.write_batch(batch)
    assert count == 3 and written  # ... and the process dies before finish_batch
    survivors = files(tmp_path)

    assert Archiver(store, tmp_path, owner="next", clock=clock).export().kinds[0].held_by == "dead"
    clock.now += dead.lease + 1
    report = Archiver(store, tmp_path, batch=3, owner="next", clock=clock).export()
    assert report.errors == []
    assert {p: files(tmp_path)[p] for p in survivors} == survivors  # found, not rewritten
    ids = [e["messageId"] for e in rows(tmp_path, WS, "event")]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 6
    (event_cursor,) = [c for c in ArchiveFeed(store).cursors(WS) if c.kind == "event"]
    assert event_cursor.exported == 6 and event_cursor.pending is None and event_cursor.owner is None


def test_a_crash_part_way_through_a_batchs_files_writes_only_the_missing_ones(
    store: SqlStore, tmp_path: Path
) -> None:
    clock = Clock()
    dead, batch = pending_batch(store, tmp_path, clock, batch=100)
    written, _ = dead.write_batch(batch)
    assert len(written) == 3  # one file per day
    # As if the process died after renaming the first day's file into place: the others never arrived,
    # and its staging folder is left half full.
    for path in written[1:]:
        path.unlink()
    staging = tmp_path / WS / ".staging" / "leftover"
    staging.mkdir(parents=True)
    (staging / "half.parquet").write_bytes(b"PAR1")
    kept = files(tmp_path)

    clock.now += dead.lease + 1
    more = message("m10", "u8", T0 + 2 * DAY + 10, event="signed_up")
    store.append_events(WS, [more])  # arrives meanwhile: not part of the pending batch
    settle(store)
    assert Archiver(store, tmp_path, owner="next", clock=clock).export().errors == []
    now = files(tmp_path)
    assert {p: now[p] for p in kept if p.suffix == ".parquet" and "staging" not in str(p)} == {
        p: kept[p] for p in kept if "staging" not in str(p)
    }
    names = sorted(p.name for p in now if ".staging" not in str(p) and p.parent.parent.name == "event")
    assert names.count(written[0].name) == 3  # the batch's three days, under the batch's own name
    ids = sorted(e["messageId"] for e in rows(tmp_path, WS, "event"))
    assert ids == sorted(["m1", "m2", "m3", "m4", "m10", "delivery:k1:opened", "delivery:k1:clicked"])


def test_a_crash_after_the_batch_is_recorded_redoes_exactly_that_range(
    store: SqlStore, tmp_path: Path
) -> None:
    clock = Clock()
    dead, batch = pending_batch(store, tmp_path, clock, batch=2)  # dies before writing a file
    assert not list(tmp_path.rglob("*.parquet"))

    clock.now += dead.lease + 1
    # A larger batch would take every row at once; the pending range is redone as it was recorded.
    assert Archiver(store, tmp_path, batch=100, owner="next", clock=clock).export().errors == []
    names = {p.name for p in (tmp_path / WS / "event").rglob("*.parquet")}
    assert f"part-{batch.cursor.position}-{batch.end}.parquet" in names
    assert len(rows(tmp_path, WS, "event")) == 6


def test_rows_committed_while_a_round_runs_are_taken_by_the_next(
    store: SqlStore, connect: Factory, tmp_path: Path
) -> None:
    fill(store)
    exporter = Archiver(store, tmp_path, clock=Clock())
    cursor = exporter.claim(WS, "event")
    assert cursor is not None
    batch = exporter.next_batch(cursor)
    assert batch is not None
    connect().append_events(WS, [message("late", "u9", T0 + 3 * DAY, event="signed_up")])
    exporter.write_batch(batch)
    cursor = exporter.finish_batch(batch, len(batch.rows))
    exporter.feed.release(WS, "event", exporter.owner)
    assert "late" not in {e["messageId"] for e in rows(tmp_path, WS, "event")}
    settle(store)
    exporter.export([WS])
    assert "late" in {e["messageId"] for e in rows(tmp_path, WS, "event")}


def test_an_unusable_workspace_id_is_reported_and_the_others_go_on(store: SqlStore, tmp_path: Path) -> None:
    store.create_workspace("../escape", at=0)
    store.create_workspace(WS, at=0)
    store.append_events(WS, [message("m1", "u1", T0, event="x")])
    settle(store)
    root = tmp_path / "archive"
    report = Archiver(store, root, clock=Clock()).export()
    failed = {k.workspace for k in report.errors}
    assert failed == {"../escape"} and "rename the workspace" in str(report.errors[0].error)
    assert [e["messageId"] for e in rows(root, WS, "event")] == ["m1"]
    assert not (tmp_path / "escape").exists() and os.listdir(root) == [WS]
