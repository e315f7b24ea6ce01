"""Delivery's tables (migration 0004): attempts and outcomes, the inbox, offline tasks, pauses, counters.

`DeliveryStore` wraps a `SqlStore` (SQLite or PostgreSQL) and uses its transactions, so the outbox, the
event log and the records it touches change in the same transaction as delivery's own rows. Like the store,
it takes the workspace in every call and is used by one thread at a time (one connection).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from rumbo.records import FIELDS, Delivery, DeliveryStatus
from rumbo.store.base import NewEvent
from rumbo.store.sql import SqlStore, Tx

AttemptStatus = Literal["sending", "confirmed", "sent", "failed"]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _many(tx: Tx, query: str, rows: Sequence[Sequence[Any]]) -> None:
    """One statement over many rows: the driver's executemany (psycopg pipelines it), not a loop of calls."""
    if rows:
        tx.cursor.executemany(tx._store._sql(query), rows)


_DELIVERY_FIELDS = tuple(FIELDS["delivery"])


def _record_row(record: Delivery) -> tuple[Any, ...]:
    # The record's columns read directly: dataclasses.asdict deep-copies every value, a cost paid per send.
    body = {name: getattr(record, name) for name in _DELIVERY_FIELDS}
    return (record.workspace, record.customer, record.at, orjson.dumps(body).decode())


@dataclass(frozen=True, slots=True)
class SendInfo:
    """What a send was, as delivery recorded it when the first attempt started."""

    key: str
    customer: str
    journey: str
    version: int
    run: str
    node: str
    channel: str
    template: str
    variant: str | None
    topic: str | None
    message_id: str
    status: AttemptStatus
    attempts: int
    resent_in_doubt: int
    provider_id: str | None
    last_error: str | None


_SEND_COLUMNS = (
    "key, customer, journey, version, run, node, channel, template, variant, topic, message_id, status, "
    "attempts, resent_in_doubt, provider_id, last_error"
)


def _send_info(row: tuple[Any, ...]) -> SendInfo:
    key, customer, journey, version, run, node, channel, template, variant, topic, mid, status = row[:12]
    return SendInfo(
        key,
        customer,
        journey,
        int(version),
        run,
        node,
        channel,
        template,
        variant,
        topic,
        mid,
        status,
        int(row[12]),
        int(row[13]),
        row[14],
        row[15],
    )


@dataclass(frozen=True, slots=True)
class Finished:
    """How one claimed outbox entry ended this round.

    `outcome` "sent": delivered (outbox sent); "retry": try again at `retry_at`; "failed": dead letter;
    "deferred": not attempted (its channel or template is paused), due again at `retry_at`.
    `event` is the outcome event for the log (message_sent / message_failed) and `record` its Delivery record.
    """

    key: str
    outcome: Literal["sent", "retry", "failed", "deferred"]
    error: str | None = None
    retry_at: float | None = None
    provider_id: str | None = None
    event: NewEvent | None = None
    record: Delivery | None = None
    counters: tuple[str, ...] = ()  # targets whose "sent" counter this send adds to (channel, template:...)


@dataclass(frozen=True, slots=True)
class InboxMessage:
    key: str
    customer: str
    template: str
    subject: str
    body: str
    created_at: float
    read_at: float | None


@dataclass(frozen=True, slots=True)
class OfflineTask:
    key: str
    customer: str
    list: str
    body: dict[str, Any]
    created_at: float
    done_at: float | None


@dataclass(frozen=True, slots=True)
class Pause:
    """A channel, or a template as "template:<name>", held back; `automatic` when thresholds tripped it."""

    target: str
    reason: str
    automatic: bool
    paused_at: float


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When bad outcomes pause a target: over `window` seconds, once at least `min_sent` were sent."""

    window: float = 86400.0
    min_sent: int = 50
    bounce_rate: float = 0.05
    complaint_rate: float = 0.003


class DeliveryStore:
    """Delivery's rows in the store: see the module docstring."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def relax_durability(self) -> None:
        """Let this connection's commits skip the disk flush: they survive a killed process, not a power cut.

        The relay confirms each provider answer on such a connection, cheaply, so that a relay killed after
        the provider accepted a message knows on restart that it must not send it again.
        """
        if self.store.dialect == "sqlite":
            self.store._cursor().execute("PRAGMA synchronous = NORMAL")
        else:
            with self.store._write() as tx:
                tx.execute("SET synchronous_commit = off")

    # --- attempts -----------------------------------------------------------------------------------

    def sends(self, workspace: str, keys: Sequence[str]) -> dict[str, SendInfo]:
        """The recorded sends among `keys`."""
        found: dict[str, SendInfo] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            rows = self.store._query(
                f"SELECT {_SEND_COLUMNS} FROM deliveries "
                f"WHERE workspace = ? AND key IN ({_marks(len(chunk))})",
                (workspace, *chunk),
            )
            found.update((row[0], _send_info(row)) for row in rows)
        return found

    def send_by_message_id(self, workspace: str, message_id: str) -> SendInfo | None:
        rows = self.store._query(
            f"SELECT {_SEND_COLUMNS} FROM deliveries WHERE workspace = ? AND message_id = ?",
            (workspace, message_id),
        )
        return _send_info(rows[0]) if rows else None

    def begin_attempts(self, workspace: str, starts: Sequence[SendInfo], *, at: float) -> None:
        """Record, durably and in one transaction, that these sends are about to be handed to providers.

        A send whose previous attempt is still 'sending' (its relay died before hearing the provider's
        answer) counts one more resend in doubt.
        """
        with self.store._write() as tx:
            _many(
                tx,
                "INSERT INTO deliveries (workspace, key, customer, journey, version, run, node, channel, "
                "template, variant, topic, message_id, status, attempts, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'sending', 1, ?) "
                "ON CONFLICT (workspace, key) DO UPDATE SET attempts = deliveries.attempts + 1, "
                "resent_in_doubt = deliveries.resent_in_doubt + "
                "(CASE WHEN deliveries.status = 'sending' THEN 1 ELSE 0 END), "
                "status = 'sending', started_at = excluded.started_at",
                [
                    (
                        workspace,
                        s.key,
                        s.customer,
                        s.journey,
                        s.version,
                        s.run,
                        s.node,
                        s.channel,
                        s.template,
                        s.variant,
                        s.topic,
                        s.message_id,
                        at,
                    )
                    for s in starts
                ],
            )

    def confirm(self, workspace: str, key: str, *, at: float, provider_id: str | None) -> None:
        """The provider accepted the send: note it at once, before the batch is marked."""
        with self.store._write() as tx:
            tx.execute(
                "UPDATE deliveries SET status = 'confirmed', provider_id = ?, finished_at = ? "
                "WHERE workspace = ? AND key = ?",
                (provider_id, at, workspace, key),
            )

    def finish(
        self, workspace: str, results: Sequence[Finished], *, at: float, window: float = 86400.0
    ) -> None:
        """Close a round in one transaction: outbox entries, attempts, records, outcome events, counters.

        `window` is the counters' window (Thresholds.window), so sends and bad outcomes count together.
        """
        if not results:
            return
        by = {
            kind: [r for r in results if r.outcome == kind]
            for kind in ("sent", "retry", "failed", "deferred")
        }
        with self.store._write() as tx:
            # Not an attempt: a deferred entry waits for its channel or template to be resumed.
            _many(
                tx,
                "UPDATE outbox SET due_at = ?, claimed_until = NULL WHERE workspace = ? AND key = ? "
                "AND status = 'pending'",
                [(r.retry_at, workspace, r.key) for r in by["deferred"]],
            )
            _many(
                tx,
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, finished_at = ?, "
                "claimed_until = NULL WHERE workspace = ? AND key = ? AND status = 'pending'",
                [(at, workspace, r.key) for r in by["sent"]],
            )
            _many(
                tx,
                "UPDATE outbox SET attempts = attempts + 1, due_at = ?, last_error = ?, claimed_until = NULL "
                "WHERE workspace = ? AND key = ? AND status = 'pending'",
                [(r.retry_at, r.error, workspace, r.key) for r in by["retry"]],
            )
            _many(
                tx,
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, finished_at = ?, "
                "last_error = ?, claimed_until = NULL WHERE workspace = ? AND key = ? AND status = 'pending'",
                [(at, r.error, workspace, r.key) for r in by["failed"]],
            )
            _many(
                tx,
                "UPDATE deliveries SET status = ?, provider_id = COALESCE(?, provider_id), finished_at = ?, "
                "last_error = ? WHERE workspace = ? AND key = ?",
                [
                    (
                        "sent" if r.outcome == "sent" else "failed",
                        r.provider_id,
                        at,
                        r.error,
                        workspace,
                        r.key,
                    )
                    for r in results
                    if r.outcome != "deferred"
                ],
            )
            _many(
                tx,
                "INSERT INTO records (workspace, customer, kind, at, body) VALUES (?, ?, 'delivery', ?, ?)",
                [_record_row(r.record) for r in results if r.record is not None],
            )
            events = [r.event for r in results if r.event is not None]
            if events:
                self.store._append(tx, workspace, events)
            sent = Counter(t for r in by["sent"] for t in r.counters)
            for target, count in sorted(sent.items()):
                self._count(tx, workspace, target, at - at % window, "sent", count)

    @staticmethod
    def _record(tx: Tx, record: Delivery) -> None:
        tx.execute(
            "INSERT INTO records (workspace, customer, kind, at, body) VALUES (?, ?, 'delivery', ?, ?)",
            _record_row(record),
        )

    @staticmethod
    def _count(tx: Tx, workspace: str, target: str, window_start: float, column: str, count: int = 1) -> None:
        tx.execute(
            f"INSERT INTO delivery_counters (workspace, target, window_start, {column}) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (workspace, target, window_start) DO UPDATE SET {column} = "
            f"delivery_counters.{column} + excluded.{column}",
            (workspace, target, window_start, count),
        )

    # --- outcomes -----------------------------------------------------------------------------------

    def record_outcome(
        self,
        workspace: str,
        event: NewEvent,
        record: Delivery,
        *,
        targets: Sequence[str],
        thresholds: Thresholds,
    ) -> tuple[bool, list[str]]:
        """Store an outcome's event and record once (by the event's messageId); count bounces and complaints.

        Returns whether the outcome was new, and the targets it paused (those whose rate crossed its
        threshold in the current window).
        """
        status: DeliveryStatus = record.status
        paused: list[str] = []
        with self.store._write() as tx:
            new = self.store._append(tx, workspace, [event])[0]
            if not new:
                return False, []
            self._record(tx, record)
            if status not in ("bounced", "complained"):
                return True, []
            window_start = record.at - record.at % thresholds.window
            for target in targets:
                self._count(tx, workspace, target, window_start, status)
                rows = tx.rows(
                    "SELECT sent, bounced, complained FROM delivery_counters "
                    "WHERE workspace = ? AND target = ? AND window_start = ?",
                    (workspace, target, window_start),
                )
                sent, bounced, complained = (int(v) for v in rows[0])
                rate, limit, what = (
                    (bounced / max(sent, 1), thresholds.bounce_rate, "hard bounces")
                    if status == "bounced"
                    else (complained / max(sent, 1), thresholds.complaint_rate, "complaints")
                )
                if sent >= thresholds.min_sent and rate > limit:
                    reason = (
                        f"{what} at {rate:.1%} of {sent} sends in the current window "
                        f"(threshold {limit:.1%}); resume once the cause is fixed"
                    )
                    added = tx.execute(
                        "INSERT INTO delivery_pauses (workspace, target, reason, automatic, paused_at) "
                        "VALUES (?, ?, ?, 1, ?) ON CONFLICT (workspace, target) DO NOTHING",
                        (workspace, target, reason, record.at),
                    )
                    if added:
                        paused.append(target)
        return True, paused

    # --- pauses -------------------------------------------------------------------------------------

    def pause(self, workspace: str, target: str, *, reason: str, at: float, automatic: bool = False) -> bool:
        """Hold a channel or a template ("template:<name>"); False if it was already paused."""
        with self.store._write() as tx:
            return (
                tx.execute(
                    "INSERT INTO delivery_pauses (workspace, target, reason, automatic, paused_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace, target) DO NOTHING",
                    (workspace, target, reason, int(automatic), at),
                )
                == 1
            )

    def resume(self, workspace: str, target: str) -> bool:
        """Lift a pause; False if the target was not paused."""
        with self.store._write() as tx:
            return (
                tx.execute(
                    "DELETE FROM delivery_pauses WHERE workspace = ? AND target = ?", (workspace, target)
                )
                == 1
            )

    def pauses(self, workspace: str) -> list[Pause]:
        rows = self.store._query(
            "SELECT target, reason, automatic, paused_at FROM delivery_pauses WHERE workspace = ? "
            "ORDER BY target",
            (workspace,),
        )
        return [Pause(t, r, bool(a), p) for t, r, a, p in rows]

    def paused(self, workspace: str) -> frozenset[str]:
        """The paused targets in the engine Policy's format: channels, and templates as "template:<name>"."""
        return frozenset(p.target for p in self.pauses(workspace))

    # --- inbox --------------------------------------------------------------------------------------

    def add_inbox(self, workspace: str, message: InboxMessage) -> bool:
        """File an in-app message; False if this send's message is already there (idempotent by key)."""
        with self.store._write() as tx:
            return (
                tx.execute(
                    "INSERT INTO delivery_inbox (workspace, customer, key, template, subject, body, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, key) DO NOTHING",
                    (
                        workspace,
                        message.customer,
                        message.key,
                        message.template,
                        message.subject,
                        message.body,
                        message.created_at,
                    ),
                )
                == 1
            )

    def inbox(
        self, workspace: str, customer: str, *, unread_only: bool = False, limit: int = 100
    ) -> list[InboxMessage]:
        """A customer's in-app messages, newest first."""
        rows = self.store._query(
            "SELECT key, customer, template, subject, body, created_at, read_at FROM delivery_inbox "
            "WHERE workspace = ? AND customer = ?"
            + (" AND read_at IS NULL" if unread_only else "")
            + " ORDER BY created_at DESC, key LIMIT ?",
            (workspace, customer, limit),
        )
        return [InboxMessage(*row) for row in rows]

    def mark_read(self, workspace: str, customer: str, key: str, *, at: float) -> bool:
        """Mark a customer's message read; False if it is not theirs or was already read."""
        with self.store._write() as tx:
            return (
                tx.execute(
                    "UPDATE delivery_inbox SET read_at = ? WHERE workspace = ? AND customer = ? AND key = ? "
                    "AND read_at IS NULL",
                    (at, workspace, customer, key),
                )
                == 1
            )

    # --- offline tasks ------------------------------------------------------------------------------

    def add_offline(self, workspace: str, task: OfflineTask) -> bool:
        """Add a task for a team (call centre, stores, direct mail); False if this send already made one."""
        with self.store._write() as tx:
            return (
                tx.execute(
                    "INSERT INTO delivery_offline (workspace, key, customer, list, body, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, key) DO NOTHING",
                    (
                        workspace,
                        task.key,
                        task.customer,
                        task.list,
                        orjson.dumps(task.body).decode(),
                        task.created_at,
                    ),
                )
                == 1
            )

    def offline_tasks(
        self, workspace: str, list_name: str, *, pending_only: bool = True, limit: int = 1000
    ) -> list[OfflineTask]:
        """A task list, oldest first."""
        rows = self.store._query(
            "SELECT key, customer, list, body, created_at, done_at FROM delivery_offline "
            "WHERE workspace = ? AND list = ?"
            + (" AND done_at IS NULL" if pending_only else "")
            + " ORDER BY created_at, key LIMIT ?",
            (workspace, list_name, limit),
        )
        return [OfflineTask(k, c, li, orjson.loads(b), ca, d) for k, c, li, b, ca, d in rows]

    def complete_offline(self, workspace: str, key: str, *, at: float) -> bool:
        """Mark an offline task done; False if it is unknown or already done."""
        with self.store._write() as tx:
            return (
                tx.execute(
                    "UPDATE delivery_offline SET done_at = ? WHERE workspace = ? AND key = ? "
                    "AND done_at IS NULL",
                    (at, workspace, key),
                )
                == 1
            )
