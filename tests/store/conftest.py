"""The `store` fixture: every conformance test runs once on SQLite and once on PostgreSQL.

PostgreSQL comes from RUMBO_TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test); each
test gets a schema of its own, dropped afterwards. Without a server the PostgreSQL cases skip, except
under CI=true, where a missing server is a failure: CI must run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from rumbo.store.postgres import PostgresStore
from rumbo.store.sql import SqlStore
from rumbo.store.sqlite import SqliteStore

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"

Factory = Callable[[], SqlStore]


def database_url() -> str:
    return os.environ.get("RUMBO_TEST_DATABASE_URL") or DEFAULT_URL


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    url = database_url()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at RUMBO_TEST_DATABASE_URL={url!r}: {str(exc).strip()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — on CI the PostgreSQL store tests must run", pytrace=False)
        pytest.skip(message + " — set RUMBO_TEST_DATABASE_URL to run the PostgreSQL store tests")


def _sqlite_factory(path: Path) -> Iterator[Factory]:
    opened: list[SqlStore] = []

    def make() -> SqlStore:
        store = SqliteStore(path)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _postgres_factory() -> Iterator[Factory]:
    admin = _admin_connection()
    schema = f"rumbo_test_{uuid.uuid4().hex[:12]}"
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    opened: list[SqlStore] = []

    def make() -> SqlStore:
        store = PostgresStore(database_url(), schema=schema)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            store.close()
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Opens connections to one fresh, not yet upgraded database; call it once per connection wanted."""
    if request.param == "sqlite":
        yield from _sqlite_factory(tmp_path / "rumbo.db")
    else:
        yield from _postgres_factory()


@pytest.fixture
def postgres_factory() -> Iterator[Factory]:
    """Like store_factory, PostgreSQL only: for what only the PostgreSQL store does."""
    yield from _postgres_factory()


@pytest.fixture
def store(store_factory: Factory) -> SqlStore:
    """A fresh, upgraded store."""
    store = store_factory()
    store.upgrade()
    return store
