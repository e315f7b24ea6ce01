"""What only the SQLite store does: the data directory, WAL and durable commits, one writer at a time."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from rumbo.store import NewEvent, open_store
from rumbo.store.errors import StoreError, StoreUnavailable
from rumbo.store.sqlite import SYNCHRONOUS_ENV, SqliteStore


def ev(message_id: str) -> NewEvent:
    return NewEvent(message_id, "u1", 1.0, 2.0, orjson.dumps({"messageId": message_id}))


def test_the_data_directory_is_rumbo_data_unless_rumbo_home_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUMBO_HOME", raising=False)
    monkeypatch.delenv("RUMBO_DATABASE_URL", raising=False)
    store = SqliteStore.open()
    assert store.path == Path("rumbo-data") / "rumbo.db"
    assert (tmp_path / "rumbo-data" / "rumbo.db").is_file()
    store.close()

    monkeypatch.setenv("RUMBO_HOME", str(tmp_path / "elsewhere"))
    chosen = open_store()
    assert isinstance(chosen, SqliteStore)
    assert chosen.path == tmp_path / "elsewhere" / "rumbo.db"
    chosen.close()


def test_wal_and_full_sync_so_an_acknowledged_event_survives_a_restart(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path)
    assert store._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store._conn.execute("PRAGMA synchronous").fetchone() == (2,)  # 2 = FULL
    store.upgrade()
    assert store.append_events("acme", [ev("m1")]) == [True]
    store.close()
    reopened = SqliteStore.open(tmp_path)
    assert [e.message_id for e in reopened.next_events("acme", ["u1"], limit=5)] == ["m1"]
    reopened.close()


def test_synchronous_normal_is_chosen_by_setting_or_argument_and_nothing_else_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SYNCHRONOUS_ENV, "Normal")
    store = SqliteStore.open(tmp_path)
    assert store._conn.execute("PRAGMA synchronous").fetchone() == (1,)  # 1 = NORMAL
    store.close()
    monkeypatch.delenv(SYNCHRONOUS_ENV)
    store = SqliteStore.open(tmp_path, synchronous="normal")
    assert store._conn.execute("PRAGMA synchronous").fetchone() == (1,)
    store.close()
    monkeypatch.setenv(SYNCHRONOUS_ENV, "off")
    with pytest.raises(StoreError, match=r"RUMBO_SQLITE_SYNCHRONOUS='off' .* use 'full'"):
        SqliteStore.open(tmp_path)


def test_every_connection_caches_64_mib_and_maps_the_file(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path)
    assert store._conn.execute("PRAGMA cache_size").fetchone() == (-65536,)  # KiB when negative
    assert store._conn.execute("PRAGMA mmap_size").fetchone() == (1 << 30,)
    store.close()


def test_a_writer_that_holds_the_lock_too_long_makes_the_store_unavailable(tmp_path: Path) -> None:
    holder = SqliteStore(tmp_path / "rumbo.db")
    holder.upgrade()
    waiter = SqliteStore(tmp_path / "rumbo.db", busy_timeout=0.1)
    with holder._write():
        with pytest.raises(StoreUnavailable, match="locked"):
            waiter.append_events("acme", [ev("m1")])
        assert waiter.next_events("acme", ["u1"], limit=5) == []  # WAL: a reader does not wait for the writer
    assert waiter.append_events("acme", [ev("m1")]) == [True]
    holder.close()
    waiter.close()


def test_a_path_that_cannot_hold_a_database_is_reported_with_where_it_is(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(StoreUnavailable, match="not-a-dir"):
        SqliteStore.open(blocker)

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an SQLite database, just some bytes" * 100)
    with pytest.raises(StoreUnavailable, match=r"garbage\.db"):
        SqliteStore(garbage).upgrade()
