"""The archive feed (migration 0006): the event log and the records in commit order, and the cursors that
say how far the analytics exporter has copied them.

Theory of operation. A row's *position* is `(txid, id)`: `id` is the event's seq or the record's id, and
`txid` the id of the transaction that wrote it (PostgreSQL) or 0 (SQLite). Rows are read in position order
and only up to the *horizon*, the position below which no row can still appear:
- SQLite has one writer at a time, so ids become visible in the order they are drawn: the horizon is the
  highest id committed.
- PostgreSQL draws ids when rows are inserted, not when they commit, so a transaction still running may
  hold a lower id than one already visible. Every row records its transaction's id (a column default), and
  the horizon is just below the oldest transaction still running: every transaction below it has ended, so
  no row can appear there later. A long-running transaction delays the export; it never makes it skip.

The cursor of a (workspace, kind) holds the position exported up to, and, while a batch is being written,
that batch's last position (`pending`), set *before* its files are written. Files are named after their
range, so after a crash the exporter re-reads exactly the pending range and writes only the files missing.
An exporter holds a cursor under a lease, so two exporters never write the same rows.

`ArchiveFeed` wraps a `SqlStore` (like `DeliveryStore`) and uses one connection: one per thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from rumbo.store.sql import SqlStore

RECORD_KINDS: Final = ("transition", "decision", "suppression", "conversion", "delivery")
KINDS: Final = ("event", *RECORD_KINDS)


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a row is in commit order; the cursor starts at (0, 0), before every row."""

    txid: int = 0
    id: int = 0

    def __str__(self) -> str:
        return f"{self.txid}.{self.id}"


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One row to export: an event (its stored message) or a record (its JSON), with the customer it belongs
    to now (merges move rows to the survivor) and, for events, when it was received."""

    position: Position
    customer: str
    at: float
    received_at: float | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far one kind of one workspace has been exported, and who is exporting it."""

    workspace: str
    kind: str
    position: Position
    pending: Position | None
    exported: int
    owner: str | None
    lease_until: float | None
    updated_at: float


_CURSOR_COLUMNS = (
    "workspace, kind, txid, last_id, pending_txid, pending_id, exported, owner, lease_until, updated_at"
)


def _cursor(row: tuple[Any, ...]) -> Cursor:
    workspace, kind, txid, last_id, pending_txid, pending_id, exported, owner, lease_until, updated_at = row
    pending = None if pending_txid is None else Position(int(pending_txid), int(pending_id))
    position = Position(int(txid), int(last_id))
    return Cursor(workspace, kind, position, pending, int(exported), owner, lease_until, updated_at)


class ArchiveFeed:
    """Rows in commit order and the exporter's cursors: see the module docstring."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    # --- rows ---------------------------------------------------------------------------------------

    def horizon(self, kind: str) -> Position:
        """The highest position every row at or below which is committed and will never change."""
        if self.store.dialect == "postgres":
            # Every transaction below the oldest one running has ended; ids start at 1, so (xmin, 0) is
            # above all their rows and below any row of the oldest running one.
            oldest_running = self.store._query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")[0][0]
            return Position(int(oldest_running), 0)
        table, ident = ("events", "seq") if kind == "event" else ("records", "id")
        return Position(0, int(self.store._query(f"SELECT COALESCE(MAX({ident}), 0) FROM {table}")[0][0]))

    def rows(
        self, workspace: str, kind: str, after: Position, upto: Position, *, limit: int | None = None
    ) -> list[FeedRow]:
        """The rows of one kind with positions in (`after`, `upto`], in position order, at most `limit`."""
        if kind == "event":
            query = "SELECT txid, seq, customer, at, received_at, body FROM events WHERE workspace = ? AND "
            params: tuple[Any, ...] = (workspace,)
            ident = "seq"
        elif kind in RECORD_KINDS:
            query = (
                "SELECT txid, id, customer, at, NULL, body FROM records WHERE workspace = ? AND kind = ? AND "
            )
            params = (workspace, kind)
            ident = "id"
        else:
            raise ValueError(f"{kind!r} is not a record kind; the feed has {', '.join(KINDS)}")
        if self.store.dialect == "sqlite":
            # txid is always 0 there, and SQLite seeks an index for a plain range but not for a row value.
            query += f"txid = 0 AND {ident} > ? AND {ident} <= ?"
            params = (*params, after.id, upto.id)
        else:
            query += f"(txid, {ident}) > (?, ?) AND (txid, {ident}) <= (?, ?)"
            params = (*params, after.txid, after.id, upto.txid, upto.id)
        query += f" ORDER BY txid, {ident}"
        if limit is not None:
            query += " LIMIT ?"
            params = (*params, limit)
        return [
            FeedRow(
                Position(int(txid), int(ident)),
                customer,
                at,
                received_at,
                body.encode() if isinstance(body, str) else bytes(body),
            )
            for txid, ident, customer, at, received_at, body in self.store._query(query, params)
        ]

    # --- cursors ------------------------------------------------------------------------------------

    def claim(self, workspace: str, kind: str, owner: str, *, now: float, lease: float) -> Cursor | None:
        """Take (or renew) the lease on a cursor, creating it at the start; None while another holds it."""
        with self.store._write() as tx:
            tx.execute(
                "INSERT INTO archive_cursors (workspace, kind, txid, last_id, exported, updated_at) "
                "VALUES (?, ?, 0, 0, 0, ?) ON CONFLICT (workspace, kind) DO NOTHING",
                (workspace, kind, now),
            )
            rows = tx.rows(
                "UPDATE archive_cursors SET owner = ?, lease_until = ? WHERE workspace = ? AND kind = ? "
                "AND (owner IS NULL OR owner = ? OR lease_until <= ?) "
                f"RETURNING {_CURSOR_COLUMNS}",
                (owner, now + lease, workspace, kind, owner, now),
            )
        return _cursor(rows[0]) if rows else None

    def begin(self, cursor: Cursor, owner: str, end: Position, *, now: float, lease: float) -> bool:
        """Record that the batch (cursor, `end`] is about to be written; False if the lease was lost."""
        with self.store._write() as tx:
            changed = tx.execute(
                "UPDATE archive_cursors SET pending_txid = ?, pending_id = ?, lease_until = ? "
                "WHERE workspace = ? AND kind = ? AND owner = ? AND txid = ? AND last_id = ?",
                (end.txid, end.id, now + lease, *self._key(cursor, owner)),
            )
        return changed == 1

    def advance(
        self, cursor: Cursor, owner: str, to: Position, *, rows: int, now: float, lease: float
    ) -> bool:
        """Move the cursor to `to` once its pending batch is written; False if the lease was lost."""
        with self.store._write() as tx:
            changed = tx.execute(
                "UPDATE archive_cursors SET txid = ?, last_id = ?, pending_txid = NULL, pending_id = NULL, "
                "exported = exported + ?, updated_at = ?, lease_until = ? "
                "WHERE workspace = ? AND kind = ? AND owner = ? AND txid = ? AND last_id = ?",
                (to.txid, to.id, rows, now, now + lease, *self._key(cursor, owner)),
            )
        return changed == 1

    def release(self, workspace: str, kind: str, owner: str) -> None:
        """Give the lease up, so another exporter may go on at once."""
        with self.store._write() as tx:
            tx.execute(
                "UPDATE archive_cursors SET owner = NULL, lease_until = NULL "
                "WHERE workspace = ? AND kind = ? AND owner = ?",
                (workspace, kind, owner),
            )

    def cursors(self, workspace: str | None = None) -> list[Cursor]:
        """Every cursor (of one workspace), by workspace and kind."""
        where, params = ("WHERE workspace = ? ", (workspace,)) if workspace is not None else ("", ())
        rows = self.store._query(
            f"SELECT {_CURSOR_COLUMNS} FROM archive_cursors {where}ORDER BY workspace, kind", params
        )
        return [_cursor(row) for row in rows]

    @staticmethod
    def _key(cursor: Cursor, owner: str) -> tuple[Any, ...]:
        return (cursor.workspace, cursor.kind, owner, cursor.position.txid, cursor.position.id)
