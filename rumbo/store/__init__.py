"""Durable storage for the runtime: SQLite embedded by default, PostgreSQL when scaled out.

`open_store()` picks one the way `rumbo serve` does: PostgreSQL when RUMBO_DATABASE_URL is set, otherwise
SQLite in the data directory (RUMBO_HOME, default ./rumbo-data). See docs/store.md.
"""

from __future__ import annotations

import os

from rumbo.store.base import (
    DueTimer,
    KeyMatch,
    NewEvent,
    OutboxEntry,
    OutboxItem,
    Step,
    Store,
    StoredEvent,
    StoredRecord,
    StoredState,
    WorkspaceKeys,
)

__all__ = [
    "DueTimer",
    "KeyMatch",
    "NewEvent",
    "OutboxEntry",
    "OutboxItem",
    "Step",
    "Store",
    "StoredEvent",
    "StoredRecord",
    "StoredState",
    "WorkspaceKeys",
    "open_store",
]


def open_store(url: str | None = None) -> Store:
    """The store at `url`, or RUMBO_DATABASE_URL, or SQLite in the data directory when neither is set."""
    url = url or os.environ.get("RUMBO_DATABASE_URL")
    if url:
        # Imported here so that the embedded default never loads the PostgreSQL driver.
        from rumbo.store.postgres import PostgresStore

        return PostgresStore(url)
    from rumbo.store.sqlite import SqliteStore

    return SqliteStore.open()
