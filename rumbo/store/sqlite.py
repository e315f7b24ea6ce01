"""The embedded store: one SQLite file in the data directory (`./rumbo-data` unless RUMBO_HOME is set).

WAL lets readers run beside the one writer; every write transaction starts with BEGIN IMMEDIATE so writers
queue on the busy timeout rather than deadlock on a lock upgrade. synchronous=FULL makes a committed
transaction survive a power cut, which an acknowledged event must. `RUMBO_SQLITE_SYNCHRONOUS=normal` trades
that for speed (each commit no longer waits for the disk; a power cut, not a crash of rumbo, may lose the
last commits): for data that can be made again, such as the demo's.

Each connection caches up to 64 MiB of pages and reads the file through a memory map of up to 1 GiB: the
worker's commits touch pages all over the customer, timer and record indexes, and SQLite's default cache
of 2 MiB sent most of those reads to the operating system.
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


SYNCHRONOUS_ENV = "RUMBO_SQLITE_SYNCHRONOUS"
SYNCHRONOUS = ("full", "normal")
CACHE_KIB = 64 * 1024
MMAP_BYTES = 1 << 30


def synchronous_setting(value: str | None = None) -> str:
    """The synchronous mode to use: `value`, else RUMBO_SQLITE_SYNCHRONOUS, else full."""
    chosen = (value or os.environ.get(SYNCHRONOUS_ENV) or "full").strip().lower()
    if chosen not in SYNCHRONOUS:
        raise StoreError(
            f"{SYNCHRONOUS_ENV}={chosen!r} is not a synchronous mode rumbo runs SQLite with; use "
            "'full' (the default: a commit survives a power cut) or 'normal' (faster; a power cut may lose "
            "the last commits)"
        )
    return chosen


class SqliteStore(SqlStore):
    """The Store on one SQLite database file."""

    dialect = "sqlite"
    begin_write: ClassVar[str] = "BEGIN IMMEDIATE"

    def __init__(
        self, path: Path | str, *, busy_timeout: float = 5.0, synchronous: str | None = None
    ) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self.synchronous = synchronous_setting(synchronous)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: the store opens and closes every transaction itself.
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=busy_timeout, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(self.where, str(exc)) from exc

    @classmethod
    def open(cls, home: Path | str | None = None, *, synchronous: str | None = None) -> SqliteStore:
        """The store in a data directory (default: RUMBO_HOME or ./rumbo-data), created if missing."""
        return cls(
            (Path(home) if home is not None else default_home()) / DATABASE_FILE, synchronous=synchronous
        )

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
