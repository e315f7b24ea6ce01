"""The embedded store: one SQLite file in the data directory (`./rumbo-data` unless RUMBO_HOME is set).

WAL lets readers run beside the one writer; every write transaction starts with BEGIN IMMEDIATE so writers
queue on the busy timeout rather than deadlock on a lock upgrade. synchronous=FULL makes a committed
transaction survive a power cut, which an acknowledged event must.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import ClassVar

from rumbo.store.errors import SchemaOutOfDate, StoreConflict, StoreError, StoreUnavailable
from rumbo.store.sql import Cursor, SqlStore

DATABASE_FILE = "rumbo.db"


def default_home() -> Path:
    """The data directory: RUMBO_HOME, or ./rumbo-data."""
    return Path(os.environ.get("RUMBO_HOME") or "rumbo-data")


class SqliteStore(SqlStore):
    """The Store on one SQLite database file."""

    dialect = "sqlite"
    begin_write: ClassVar[str] = "BEGIN IMMEDIATE"

    def __init__(self, path: Path | str, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: the store opens and closes every transaction itself.
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=busy_timeout, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(self.where, str(exc)) from exc

    @classmethod
    def open(cls, home: Path | str | None = None) -> SqliteStore:
        """The store in a data directory (default: RUMBO_HOME or ./rumbo-data), created if missing."""
        return cls((Path(home) if home is not None else default_home()) / DATABASE_FILE)

    def _cursor(self) -> Cursor:
        return self._conn.cursor()

    def _translate(self, exc: Exception) -> StoreError | None:
        message = str(exc)
        if isinstance(exc, sqlite3.IntegrityError):
            return StoreConflict(f"store at {self.where} refused a write: {message}")
        if isinstance(exc, sqlite3.OperationalError):
            if message.startswith("no such table"):
                return SchemaOutOfDate(self.where, message)
            if "locked" in message or "busy" in message:
                return StoreUnavailable(self.where, f"{message} (another writer held the lock too long)")
            if "unable to open" in message or "disk" in message or "readonly" in message:
                return StoreUnavailable(self.where, message)
            return None  # a malformed statement is a bug, not a store condition
        if isinstance(exc, sqlite3.DatabaseError):
            return StoreUnavailable(self.where, message)
        return None

    def close(self) -> None:
        self._conn.close()
