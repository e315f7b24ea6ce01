"""The store written once in SQL that SQLite and PostgreSQL both run; the drivers differ only in hooks.

Statements use `?` placeholders (PostgreSQL's store rewrites them to `%s`). Every write runs in one
explicit transaction on an autocommit connection, so the code, not the driver, decides where a
transaction starts and ends. Driver exceptions become rumbo's store errors in `_write` and `_query`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from operator import attrgetter, itemgetter
from typing import Any, ClassVar, Protocol, cast

import orjson

from rumbo.engine.commands import TimerKind
from rumbo.store.base import (
    DueTimer,
    KeyMatch,
    NewEvent,
    OutboxItem,
    OutboxStatus,
    Role,
    Step,
    StoredEvent,
    StoredRecord,
    StoredState,
    WorkspaceKeys,
)
from rumbo.store.errors import (
    OutboxNotPending,
    SchemaOutOfDate,
    SchemaTooNew,
    StoreConflict,
    StoreError,
    WorkspaceExists,
)
from rumbo.store.keys import hash_key, new_key
from rumbo.store.migrations import Dialect, latest, migrations
from rumbo.store.steps import commit_batch, commit_step


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses (sqlite3 and psycopg both provide it)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...

    def executemany(self, query: Any, params: Any, /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Tx:
    """One open transaction: statements in the store's `?` style, rewritten for the driver."""

    def __init__(self, cursor: Cursor, store: SqlStore) -> None:
        self.cursor = cursor
        self._store = store

    def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        self.cursor.execute(self._store._sql(query), tuple(params))
        return self.cursor.rowcount

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run a statement once per row in one driver call (psycopg pipelines the rows: one round trip, not
        one per row); return the number of rows it changed in all."""
        if not rows:
            return 0
        self.cursor.executemany(self._store._sql(query), rows)
        return self.cursor.rowcount

    def values(self, query: str, rows: Sequence[Sequence[Any]]) -> int:
        """`query` for many rows at once: its `{values}` becomes `VALUES (?, ...), (?, ...)` with the rows,
        500 at a time; return the number of rows it changed in all. One statement costs less than one
        execution per row (executemany): SQLite runs its per-statement work once (AUTOINCREMENT, savepoint),
        PostgreSQL plans and runs one statement instead of one per row."""
        if not rows:
            return 0
        one = "(" + ", ".join("?" * len(rows[0])) + ")"
        changed = 0
        for start in range(0, len(rows), _APPEND_CHUNK):
            chunk = rows[start : start + _APPEND_CHUNK]
            values = "VALUES " + ", ".join([one] * len(chunk))
            changed += self.execute(query.format(values=values), [v for row in chunk for v in row])
        return changed

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(self._store._sql(query), tuple(params))
        return [tuple(row) for row in self.cursor.fetchall()]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


_APPEND_CHUNK = 500  # rows per INSERT: 3,000 parameters, well under every driver limit
_OUTBOX_COLUMNS = "key, customer, kind, body, status, attempts, created_at, due_at, last_error"
_TIMER_COLUMNS = "customer, run, token, due_at, kind, claimed_until"


def _outbox_item(row: tuple[Any, ...]) -> OutboxItem:
    key, customer, kind, body, status, attempts, created_at, due_at, last_error = row
    return OutboxItem(
        key, customer, kind, bytes(body), cast(OutboxStatus, status), attempts, created_at, due_at, last_error
    )


def _timer(row: tuple[Any, ...]) -> DueTimer:
    customer, run, token, due_at, kind, claimed_until = row
    return DueTimer(customer, run, int(token), due_at, cast(TimerKind, kind), claimed_until)


class SqlStore(ABC):
    """The Store protocol over a DB-API connection; subclasses supply the connection and the hooks."""

    dialect: ClassVar[Dialect]
    # How a write transaction starts: SQLite takes the write lock up front (BEGIN IMMEDIATE) so two
    # writers queue on busy_timeout instead of failing when a read lock would have to be upgraded.
    begin_write: ClassVar[str] = "BEGIN"
    # Added to the SELECT that picks rows to claim; PostgreSQL skips rows another claimer holds.
    skip_locked: ClassVar[str] = ""
    where: str  # the database, as error messages name it

    # --- driver hooks -------------------------------------------------------------------------------

    @abstractmethod
    def _cursor(self) -> Cursor:
        """A cursor on the (autocommit) connection, reconnecting first if the connection broke."""

    @abstractmethod
    def _translate(self, exc: Exception) -> StoreError | None:
        """The store error a driver exception means, or None for a programming error to let through."""

    def _sql(self, query: str) -> str:
        return query

    def _lock_upgrade(self, tx: Tx) -> None:  # noqa: B027 — a hook that only PostgreSQL needs
        """Serialise concurrent upgrades (SQLite's write lock already does)."""

    def _lock_customers(self, tx: Tx, workspace: str, customers: list[str]) -> None:  # noqa: B027
        """Make appends for one customer commit in the order their seqs were drawn (see append_events)."""

    @abstractmethod
    def close(self) -> None: ...

    # --- transactions -------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        try:
            cursor = self._cursor()
            cursor.execute(self.begin_write)
        except Exception as exc:
            wrapped = self._translate(exc)
            if wrapped is None:
                raise
            raise wrapped from exc
        try:
            yield Tx(cursor, self)
            cursor.execute("COMMIT")
        except Exception as exc:
            # The connection may be gone; the first error is the one to report.
            with suppress(Exception):
                cursor.execute("ROLLBACK")
            wrapped = self._translate(exc)
            if wrapped is None:
                raise
            raise wrapped from exc

    def _query(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return Tx(self._cursor(), self).rows(query, params)
        except Exception as exc:
            wrapped = self._translate(exc)
            if wrapped is None:
                raise
            raise wrapped from exc

    # --- schema -------------------------------------------------------------------------------------

    def upgrade(self) -> int:
        known = latest(self.dialect)
        with self._write() as tx:
            self._lock_upgrade(tx)
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
            current = int(tx.rows("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0])
            if current > known:
                raise SchemaTooNew(self.where, current, known)
            for migration in migrations(self.dialect)[current:]:
                for statement in migration.statements:
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )
        return max(current, known)

    def schema_version(self) -> int:
        try:
            return int(self._query("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0])
        except SchemaOutOfDate:
            return 0

    # --- workspaces ---------------------------------------------------------------------------------

    def create_workspace(self, workspace: str, *, at: float) -> WorkspaceKeys:
        keys = WorkspaceKeys(workspace, new_key("write"), new_key("admin"))
        with self._write() as tx:
            # ON CONFLICT rather than a look first: two processes creating one id at once both get an answer.
            added = tx.execute(
                "INSERT INTO workspaces (workspace, created_at) VALUES (?, ?) "
                "ON CONFLICT (workspace) DO NOTHING",
                (workspace, at),
            )
            if added != 1:
                raise WorkspaceExists(workspace)
            for role, key in (("write", keys.write_key), ("admin", keys.admin_key)):
                tx.execute(
                    "INSERT INTO api_keys (workspace, role, key_hash) VALUES (?, ?, ?)",
                    (workspace, role, hash_key(key)),
                )
        return keys

    def find_key(self, key: str) -> KeyMatch | None:
        rows = self._query("SELECT workspace, role FROM api_keys WHERE key_hash = ?", (hash_key(key),))
        return KeyMatch(rows[0][0], cast(Role, rows[0][1])) if rows else None

    def workspaces(self) -> list[str]:
        return [row[0] for row in self._query("SELECT workspace FROM workspaces ORDER BY workspace")]

    # --- the event log ------------------------------------------------------------------------------

    def append_events(self, workspace: str, events: Sequence[NewEvent]) -> list[bool]:
        if not events:
            return []
        with self._write() as tx:
            return self._append(tx, workspace, events)

    def _append(
        self, tx: Tx, workspace: str, events: Sequence[NewEvent], processed_at: float | None = None
    ) -> list[bool]:
        self._lock_customers(tx, workspace, sorted({e.customer for e in events}))
        inserted: set[str] = set()
        # One multi-row INSERT per chunk: a round trip per event would cost PostgreSQL most of its time.
        for start in range(0, len(events), _APPEND_CHUNK):
            chunk = events[start : start + _APPEND_CHUNK]
            rows = tx.rows(
                "INSERT INTO events (workspace, customer, message_id, at, received_at, body, processed_at) "
                "VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                + " ON CONFLICT (workspace, message_id) DO NOTHING RETURNING message_id",
                [
                    v
                    for e in chunk
                    for v in (workspace, e.customer, e.message_id, e.at, e.received_at, e.body, processed_at)
                ],
            )
            inserted.update(row[0] for row in rows)
        # Rows are inserted in order, so of two copies in one batch the first is the one stored.
        new = []
        for e in events:
            new.append(e.message_id in inserted)
            inserted.discard(e.message_id)
        return new

    def pending_customers(self, workspace: str, *, limit: int) -> list[str]:
        rows = self._query(
            "SELECT customer FROM events WHERE workspace = ? AND processed_at IS NULL "
            "GROUP BY customer ORDER BY MIN(seq) LIMIT ?",
            (workspace, limit),
        )
        return [row[0] for row in rows]

    def next_events(self, workspace: str, customers: Collection[str], *, limit: int) -> list[StoredEvent]:
        if not customers:
            return []
        wanted = sorted(set(customers))
        rows = self._query(
            "SELECT seq, message_id, customer, at, received_at, body FROM ("
            " SELECT seq, message_id, customer, at, received_at, body,"
            " ROW_NUMBER() OVER (PARTITION BY customer ORDER BY seq) AS n FROM events"
            f" WHERE workspace = ? AND processed_at IS NULL AND customer IN ({_marks(len(wanted))})"
            ") AS pending WHERE n <= ? ORDER BY seq",
            (workspace, *wanted, limit),
        )
        return [StoredEvent(int(s), m, c, a, r, bytes(b)) for s, m, c, a, r, b in rows]

    def pending_events(self, workspace: str, *, customers: int, limit: int) -> list[StoredEvent]:
        # pending_customers then next_events, cheaper: next_events' window function (to keep `limit` per
        # customer) and its sort by seq carry every event's body through temporary tables, which cost SQLite
        # more than reading the events. Counting the events per customer comes free with finding the
        # customers, and a customer within `limit` (nearly every one) needs no window: its events are read by
        # the index, then put in log order here. Events appended since they were counted are cut here.
        counted = self._query(
            "SELECT customer, COUNT(*) FROM events WHERE workspace = ? AND processed_at IS NULL "
            "GROUP BY customer ORDER BY MIN(seq) LIMIT ?",
            (workspace, customers),
        )
        within = sorted(customer for customer, count in counted if count <= limit)
        beyond = [customer for customer, count in counted if count > limit]
        rows = (
            self._query(
                "SELECT seq, message_id, customer, at, received_at, body FROM events WHERE workspace = ? "
                f"AND processed_at IS NULL AND customer IN ({_marks(len(within))})",
                (workspace, *within),
            )
            if within
            else []
        )
        rows.sort(key=itemgetter(0))
        taken: Counter[str] = Counter()
        events = []
        for seq, message_id, customer, at, received_at, body in rows:
            taken[customer] += 1
            if taken[customer] <= limit:
                events.append(StoredEvent(int(seq), message_id, customer, at, received_at, bytes(body)))
        if beyond:
            events += self.next_events(workspace, beyond, limit=limit)
            events.sort(key=attrgetter("seq"))
        return events

    # --- customer state -----------------------------------------------------------------------------

    def load_state(self, workspace: str, customer: str) -> StoredState | None:
        rows = self._query(
            "SELECT version, state FROM customer_state WHERE workspace = ? AND customer = ?",
            (workspace, customer),
        )
        return StoredState(customer, int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def load_states(self, workspace: str, customers: Collection[str]) -> dict[str, StoredState]:
        found: dict[str, StoredState] = {}
        wanted = sorted(set(customers))
        for start in range(0, len(wanted), _APPEND_CHUNK):
            chunk = wanted[start : start + _APPEND_CHUNK]
            rows = self._query(
                "SELECT customer, version, state FROM customer_state WHERE workspace = ? "
                f"AND customer IN ({_marks(len(chunk))})",
                (workspace, *chunk),
            )
            for customer, version, state in rows:
                found[customer] = StoredState(customer, int(version), bytes(state))
        return found

    def commit_step(self, step: Step) -> int:
        with self._write() as tx:
            commit_step(self, tx, step)
        return step.expected_version + 1

    def commit_steps(self, steps: Sequence[Step]) -> list[int | StoreConflict]:
        # One transaction for the batch: written set-wise when no step conflicts (steps.py), else each step
        # inside a savepoint, so that a conflicting step is rolled back alone and reported and the others
        # commit together. Either way the batch costs one durable commit instead of one per step.
        results: list[int | StoreConflict] = [0] * len(steps)
        if not steps:
            return results
        # Customers are written in sorted order so that two batches sharing customers wait on each other
        # instead of deadlocking; the sort is stable, so one customer's steps keep their order.
        order = sorted(range(len(steps)), key=lambda i: steps[i].customer)
        with self._write() as tx:
            if commit_batch(self, tx, [steps[i] for i in order]):
                return [step.expected_version + 1 for step in steps]
            for i in order:
                tx.execute("SAVEPOINT step")
                try:
                    commit_step(self, tx, steps[i])
                except StoreConflict as conflict:
                    tx.execute("ROLLBACK TO SAVEPOINT step")
                    results[i] = conflict
                else:
                    results[i] = steps[i].expected_version + 1
                tx.execute("RELEASE SAVEPOINT step")
        return results

    # --- timers -------------------------------------------------------------------------------------

    def claim_due_timers(self, workspace: str, now: float, *, limit: int, lease: float) -> list[DueTimer]:
        with self._write() as tx:
            rows = tx.rows(
                "UPDATE timers SET claimed_until = ? WHERE (workspace, customer, run, token) IN ("
                " SELECT workspace, customer, run, token FROM timers WHERE workspace = ? AND due_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until <= ?) AND held IS NULL"
                f" ORDER BY due_at LIMIT ?{self.skip_locked}) RETURNING {_TIMER_COLUMNS}",
                (now + lease, workspace, now, now, limit),
            )
        return sorted((_timer(row) for row in rows), key=lambda t: (t.at, t.customer, t.run, t.token))

    def timers(self, workspace: str, customer: str) -> list[DueTimer]:
        rows = self._query(
            f"SELECT {_TIMER_COLUMNS} FROM timers WHERE workspace = ? AND customer = ? "
            "ORDER BY due_at, run, token",
            (workspace, customer),
        )
        return [_timer(row) for row in rows]

    # --- the outbox ---------------------------------------------------------------------------------

    def claim_outbox(self, workspace: str, now: float, *, limit: int, lease: float) -> list[OutboxItem]:
        with self._write() as tx:
            rows = tx.rows(
                "UPDATE outbox SET claimed_until = ? WHERE (workspace, key) IN ("
                " SELECT workspace, key FROM outbox WHERE workspace = ? AND status = 'pending'"
                " AND due_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)"
                f" ORDER BY due_at, created_at LIMIT ?{self.skip_locked}) RETURNING {_OUTBOX_COLUMNS}",
                (now + lease, workspace, now, now, limit),
            )
        return sorted((_outbox_item(row) for row in rows), key=lambda o: (o.due_at, o.created_at, o.key))

    def mark_sent(self, workspace: str, key: str, *, at: float) -> None:
        with self._write() as tx:
            changed = tx.execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, finished_at = ?, "
                "claimed_until = NULL WHERE workspace = ? AND key = ? AND status = 'pending'",
                (at, workspace, key),
            )
            if changed != 1:
                raise OutboxNotPending(workspace, key)

    def mark_failed(self, workspace: str, key: str, *, at: float, error: str, retry_at: float | None) -> None:
        with self._write() as tx:
            if retry_at is None:
                changed = tx.execute(
                    "UPDATE outbox SET status = 'failed', attempts = attempts + 1, finished_at = ?, "
                    "last_error = ?, claimed_until = NULL "
                    "WHERE workspace = ? AND key = ? AND status = 'pending'",
                    (at, error, workspace, key),
                )
            else:
                changed = tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, due_at = ?, last_error = ?, "
                    "claimed_until = NULL WHERE workspace = ? AND key = ? AND status = 'pending'",
                    (retry_at, error, workspace, key),
                )
            if changed != 1:
                raise OutboxNotPending(workspace, key)

    def outbox_entry(self, workspace: str, key: str) -> OutboxItem | None:
        rows = self._query(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE workspace = ? AND key = ?", (workspace, key)
        )
        return _outbox_item(rows[0]) if rows else None

    # --- records ------------------------------------------------------------------------------------

    def records(self, workspace: str, customer: str) -> list[StoredRecord]:
        rows = self._query(
            "SELECT kind, at, body FROM records WHERE workspace = ? AND customer = ? ORDER BY id",
            (workspace, customer),
        )
        return [StoredRecord(kind, at, orjson.loads(body)) for kind, at, body in rows]
