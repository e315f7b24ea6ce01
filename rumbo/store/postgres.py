"""The scaled store: PostgreSQL through psycopg 3 (`RUMBO_DATABASE_URL=postgresql://…`).

Many API processes and workers share one database. Two things need PostgreSQL's help beyond the shared SQL:
- Per-customer order. An identity column hands out seqs when rows are inserted, not when they commit, so
  two batches for one customer could become visible out of seq order and a worker could process the
  later event first. Each append takes a transaction-scoped advisory lock per customer (in sorted order,
  so two appenders cannot deadlock) before drawing seqs: one customer's events commit in seq order.
- Claiming. Timers and outbox entries are picked with FOR UPDATE SKIP LOCKED, so concurrent claimers
  take disjoint rows instead of waiting on each other.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from rumbo.store.errors import SchemaOutOfDate, StoreConflict, StoreError, StoreUnavailable
from rumbo.store.sql import Cursor, SqlStore, Tx

# An arbitrary constant naming the upgrade lock among the database's advisory locks.
_UPGRADE_LOCK = 0x72756D626F


def _customer_lock(workspace: str, customer: str) -> int:
    digest = hashlib.blake2b(f"{workspace}\x1f{customer}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def describe(url: str) -> str:
    """The database a URL points at, without its password, for error messages."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "<unparseable RUMBO_DATABASE_URL>"
    user, host, port, db = (info.get(k, "") for k in ("user", "host", "port", "dbname"))
    return f"postgresql://{user}@{host}:{port or 5432}/{db}"


class PostgresStore(SqlStore):
    """The Store on a PostgreSQL database; `schema` keeps its tables in a schema of their own."""

    dialect = "postgres"
    skip_locked: ClassVar[str] = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, schema: str | None = None, connect_timeout: int = 5) -> None:
        self._url = url
        self._schema = schema
        self._connect_timeout = connect_timeout
        self.where = describe(url) + (f" (schema {schema})" if schema else "")
        self._conn = self._connect()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_timeout)
            if self._schema is not None:
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
        except psycopg.Error as exc:
            raise StoreUnavailable(self.where, str(exc).strip()) from exc
        return conn

    def _cursor(self) -> Cursor:
        if self._conn.broken or self._conn.closed:
            self._conn = self._connect()
        return self._conn.cursor()

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s")

    def _lock_upgrade(self, tx: Tx) -> None:
        tx.rows("SELECT pg_advisory_xact_lock(?)", (_UPGRADE_LOCK,))

    def _lock_customers(self, tx: Tx, workspace: str, customers: list[str]) -> None:
        keys = sorted({_customer_lock(workspace, c) for c in customers})
        tx.rows("SELECT pg_advisory_xact_lock(k) FROM unnest(?::bigint[]) AS k", (keys,))

    def _translate(self, exc: Exception) -> StoreError | None:
        message = str(exc).strip()
        if isinstance(exc, errors.UndefinedTable):
            return SchemaOutOfDate(self.where, message)
        if isinstance(exc, psycopg.IntegrityError):
            return StoreConflict(f"store at {self.where} refused a write: {message}")
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return StoreUnavailable(self.where, message)
        return None

    def close(self) -> None:
        self._conn.close()
