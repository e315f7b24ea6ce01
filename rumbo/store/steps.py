"""Writing engine steps: a whole batch set-wise when nothing conflicts, step by step when something does.

A worker commits hundreds of steps per transaction, each touching a handful of tables (state, events,
timers, outbox, records, ...). Written step by step, each inside a savepoint so that a step in conflict is
left out alone, that is about six statements per step, and they were half the worker's time on SQLite.
Conflicts are rare, so `commit_batch` first writes the whole batch with one statement per table (a
multi-row VALUES; deletes, which SQLite would plan as a scan that way, run as one executemany) and checks
that the row counts add up: every state still at the version its step was computed from, every input event
still unprocessed, every outbox key new. If one does not, the batch is rolled back to its savepoint and
written again step by step by `commit_step`, which finds the steps in conflict exactly. The common case is
cheap and the rare case is exact.

Both ways give the same rows. The set-wise write is only tried when the steps touch disjoint customers (one
step per customer, no absorbed customer that another step writes), so the order of the writes cannot change
what they do; rows with generated ids (records, consent history, emitted events) are written in the same
order as step by step, the steps sorted by customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from rumbo.records import Record, record_kind, record_to_dict
from rumbo.store.base import Step
from rumbo.store.errors import DuplicateCommand, EventsAlreadyProcessed, VersionConflict

if TYPE_CHECKING:
    from rumbo.store.sql import SqlStore, Tx

_INSERT_STATE = (
    "INSERT INTO customer_state (workspace, customer, version, state, updated_at) "
    "VALUES (?, ?, 1, ?, ?) ON CONFLICT (workspace, customer) DO NOTHING"
)
_UPDATE_STATE = (
    "UPDATE customer_state SET version = version + 1, state = ?, updated_at = ? "
    "WHERE workspace = ? AND customer = ? AND version = ?"
)
_MARK_PROCESSED = (
    "UPDATE events SET processed_at = ? "
    "WHERE workspace = ? AND customer = ? AND processed_at IS NULL AND seq = ?"
)
_CANCEL_TIMER = "DELETE FROM timers WHERE workspace = ? AND customer = ? AND run = ? AND token = ?"
# Scheduling the same (run, token) again moves it: a repeated command is harmless.
_SCHEDULE_TIMER = (
    "INSERT INTO timers (workspace, customer, run, token, due_at, kind) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (workspace, customer, run, token) "
    "DO UPDATE SET due_at = excluded.due_at, kind = excluded.kind, claimed_until = NULL"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (workspace, key, customer, kind, body, status, created_at, due_at) "
    "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (workspace, key) DO NOTHING"
)
_INSERT_RECORDS = "INSERT INTO records (workspace, customer, kind, at, body) {values}"
_INSERT_CONSENT = (
    "INSERT INTO consent_log (workspace, customer, scope, granted, source, at) VALUES (?, ?, ?, ?, ?, ?)"
)
_ENTER_SEGMENT = (
    "INSERT INTO segment_members (workspace, customer, segment, entered_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (workspace, customer, segment) DO NOTHING"
)
_LEAVE_SEGMENT = "DELETE FROM segment_members WHERE workspace = ? AND customer = ? AND segment = ?"


def _record_row(ws: str, customer: str, record: Record) -> tuple[Any, ...]:
    return (ws, customer, record_kind(record), record.at, orjson.dumps(record_to_dict(record)).decode())


# --- step by step -----------------------------------------------------------------------------------


def commit_step(store: SqlStore, tx: Tx, step: Step) -> None:
    """Write one step inside an open transaction; raise a StoreConflict before finishing if it cannot."""
    ws, customer = step.workspace, step.customer
    _save_state(tx, step)
    if step.processed:
        seqs = sorted(set(step.processed))
        marked = tx.execute(
            "UPDATE events SET processed_at = ? WHERE workspace = ? AND customer = ? "
            f"AND processed_at IS NULL AND seq IN ({', '.join('?' * len(seqs))})",
            (step.at, ws, customer, *seqs),
        )
        if marked != len(seqs):
            raise EventsAlreadyProcessed(ws, customer, seqs)
    for cancel in step.cancelled_timers:
        tx.execute(_CANCEL_TIMER, (ws, customer, cancel.run, cancel.token))
    for timer in step.timers:
        tx.execute(_SCHEDULE_TIMER, (ws, customer, timer.run, timer.token, timer.at, timer.kind))
    for entry in step.outbox:
        added = tx.execute(
            _INSERT_OUTBOX, (ws, entry.key, customer, entry.kind, entry.body, step.at, step.at)
        )
        if added != 1:
            raise DuplicateCommand(ws, f"key {entry.key!r}, customer {customer!r}")
    tx.values(_INSERT_RECORDS, [_record_row(ws, customer, record) for record in step.records])
    if step.events:
        store._append(tx, ws, step.events, processed_at=step.at)
    if step.absorbs is not None:
        _absorb(tx, ws, customer, step.absorbs)
    for change in step.consent:
        tx.execute(_INSERT_CONSENT, (ws, customer, change.scope, change.granted, change.source, change.at))
    for segment in step.segments_entered:
        tx.execute(_ENTER_SEGMENT, (ws, customer, segment, step.at))
    for segment in step.segments_left:
        tx.execute(_LEAVE_SEGMENT, (ws, customer, segment))


def _save_state(tx: Tx, step: Step) -> None:
    """Write the new state if the stored version is still the one the step was computed from."""
    ws, customer = step.workspace, step.customer
    if step.expected_version == 0:
        saved = tx.execute(_INSERT_STATE, (ws, customer, step.state, step.at))
    else:
        saved = tx.execute(_UPDATE_STATE, (step.state, step.at, ws, customer, step.expected_version))
    if saved != 1:
        rows = tx.rows(
            "SELECT version FROM customer_state WHERE workspace = ? AND customer = ?", (ws, customer)
        )
        raise VersionConflict(ws, customer, step.expected_version, int(rows[0][0]) if rows else 0)


def _absorb(tx: Tx, ws: str, survivor: str, merged: str) -> None:
    """The merged customer's state is gone; its history, timers, unprocessed events, messages and records
    are the survivor's (the history follows the person)."""
    tx.execute("DELETE FROM customer_state WHERE workspace = ? AND customer = ?", (ws, merged))
    # The survivor's step writes the memberships of the merged state; the merged customer keeps none.
    tx.execute("DELETE FROM segment_members WHERE workspace = ? AND customer = ?", (ws, merged))
    for table in ("timers", "events", "outbox", "records", "consent_log"):
        moved = f"UPDATE {table} SET customer = ? WHERE workspace = ? AND customer = ?"
        tx.execute(moved, (survivor, ws, merged))


# --- set-wise ---------------------------------------------------------------------------------------


def commit_batch(store: SqlStore, tx: Tx, steps: Sequence[Step]) -> bool:
    """Write `steps` (sorted by customer) set-wise inside an open transaction. False when the batch cannot be
    written so, or a check failed: then nothing of it is written, and it is to be written step by step."""
    if not _disjoint(steps):
        return False
    tx.execute("SAVEPOINT batch")
    written = _write_batch(store, tx, steps)
    if not written:
        tx.execute("ROLLBACK TO SAVEPOINT batch")
    tx.execute("RELEASE SAVEPOINT batch")
    return written


def _disjoint(steps: Sequence[Step]) -> bool:
    """Whether no two steps write the same customer's rows (a step writes the rows of the customer it
    absorbs too), so that the steps' writes commute."""
    seen: set[tuple[str, str]] = set()
    for step in steps:
        mine = (step.workspace, step.customer)
        if mine in seen:
            return False
        seen.add(mine)
    for step in steps:
        if step.absorbs is not None:
            absorbed = (step.workspace, step.absorbs)
            if absorbed in seen:
                return False
            seen.add(absorbed)
    return True


def _write_batch(store: SqlStore, tx: Tx, steps: Sequence[Step]) -> bool:
    """The writes of `commit_step` for every step, table by table in its order; False as soon as a row count
    shows a check failed (what was written by then is for the caller to roll back)."""
    inserts = [(s.workspace, s.customer, 1, s.state, s.at) for s in steps if s.expected_version == 0]
    created = tx.values(
        "INSERT INTO customer_state (workspace, customer, version, state, updated_at) {values} "
        "ON CONFLICT (workspace, customer) DO NOTHING",
        inserts,
    )
    if created != len(inserts):
        return False
    updates = [
        (s.workspace, s.customer, s.expected_version, s.state, s.at) for s in steps if s.expected_version
    ]
    saved = tx.values(
        "UPDATE customer_state SET version = customer_state.version + 1, state = v.column4, "
        "updated_at = v.column5 FROM ({values}) AS v WHERE customer_state.workspace = v.column1 "
        "AND customer_state.customer = v.column2 AND customer_state.version = v.column3",
        updates,
    )
    if saved != len(updates):
        return False
    marks = [(s.workspace, s.customer, seq, s.at) for s in steps for seq in sorted(set(s.processed))]
    marked = tx.values(
        "UPDATE events SET processed_at = v.column4 FROM ({values}) AS v WHERE events.workspace = v.column1 "
        "AND events.customer = v.column2 AND events.seq = v.column3 AND events.processed_at IS NULL",
        marks,
    )
    if marked != len(marks):
        return False
    tx.executemany(
        _CANCEL_TIMER, [(s.workspace, s.customer, c.run, c.token) for s in steps for c in s.cancelled_timers]
    )
    # Of two schedules of one timer in a batch the last wins, as step by step; one statement cannot upsert
    # a row twice (PostgreSQL refuses to), so only the last goes in.
    timers = {(s.workspace, s.customer, t.run, t.token): (t.at, t.kind) for s in steps for t in s.timers}
    tx.values(
        "INSERT INTO timers (workspace, customer, run, token, due_at, kind) {values} "
        "ON CONFLICT (workspace, customer, run, token) "
        "DO UPDATE SET due_at = excluded.due_at, kind = excluded.kind, claimed_until = NULL",
        [(*key, at, kind) for key, (at, kind) in timers.items()],
    )
    outbox = [
        (s.workspace, o.key, s.customer, o.kind, o.body, "pending", s.at, s.at)
        for s in steps
        for o in s.outbox
    ]
    added = tx.values(
        "INSERT INTO outbox (workspace, key, customer, kind, body, status, created_at, due_at) {values} "
        "ON CONFLICT (workspace, key) DO NOTHING",
        outbox,
    )
    if added != len(outbox):
        return False
    tx.values(_INSERT_RECORDS, [_record_row(s.workspace, s.customer, r) for s in steps for r in s.records])
    _append_emitted(store, tx, steps)
    for step in steps:
        if step.absorbs is not None:
            _absorb(tx, step.workspace, step.customer, step.absorbs)
    tx.values(
        "INSERT INTO consent_log (workspace, customer, scope, granted, source, at) {values}",
        [(s.workspace, s.customer, c.scope, c.granted, c.source, c.at) for s in steps for c in s.consent],
    )
    tx.values(
        "INSERT INTO segment_members (workspace, customer, segment, entered_at) {values} "
        "ON CONFLICT (workspace, customer, segment) DO NOTHING",
        [(s.workspace, s.customer, name, s.at) for s in steps for name in s.segments_entered],
    )
    tx.executemany(
        _LEAVE_SEGMENT, [(s.workspace, s.customer, name) for s in steps for name in s.segments_left]
    )
    return True


def _append_emitted(store: SqlStore, tx: Tx, steps: Sequence[Step]) -> None:
    """The events the steps emitted, in step order, in as few appends as their workspaces and processing
    times allow (a worker's batch shares both, so one)."""
    group: list[Any] = []
    key: tuple[str, float] | None = None
    for step in steps:
        if not step.events:
            continue
        if key is not None and key != (step.workspace, step.at):
            store._append(tx, key[0], group, processed_at=key[1])
            group = []
        key = (step.workspace, step.at)
        group.extend(step.events)
    if key is not None:
        store._append(tx, key[0], group, processed_at=key[1])
