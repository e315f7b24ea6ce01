"""The store interface the runtime works against, and the values that cross it.

Every table is keyed by workspace, and per-customer data by (workspace, customer), so that work can be
partitioned by customer across workers. Every method takes the workspace it works in and never returns a
row of another. Time is passed in (`now`, `at`) rather than read from a clock, so tests run on virtual
time and a replay writes the same rows.

One store instance holds one database connection: use one per thread or worker.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from rumbo.engine.commands import CancelTimer, ScheduleTimer, TimerKind
from rumbo.records import Record
from rumbo.store.errors import StoreConflict

Role = Literal["write", "admin"]
OutboxStatus = Literal["pending", "sent", "failed"]


@dataclass(frozen=True, slots=True)
class WorkspaceKeys:
    """A new workspace's keys, in clear. Only their hashes are stored: this is the one chance to see them."""

    workspace: str
    write_key: str
    admin_key: str


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """The workspace a key belongs to, and what it may do there (write keys only ingest)."""

    workspace: str
    role: Role


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An accepted event, ready for the log: `body` is the serialised event, `at` its event time."""

    message_id: str
    customer: str
    at: float
    received_at: float
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event in the log; `seq` gives the order events of one customer are processed in."""

    seq: int
    message_id: str
    customer: str
    at: float
    received_at: float
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredState:
    """A customer's serialised state and its version (1 after the first commit)."""

    customer: str
    version: int
    state: bytes


@dataclass(frozen=True, slots=True)
class DueTimer:
    """A timer claimed for firing; it stays claimed until `claimed_until`, then others may claim it."""

    customer: str
    run: str
    token: int
    at: float
    kind: TimerKind
    claimed_until: float | None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A command waiting for the outside world; `key` is its idempotency key, unique in the workspace."""

    key: str
    kind: str
    body: bytes


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An outbox entry as stored, with its delivery progress."""

    key: str
    customer: str
    kind: str
    body: bytes
    status: OutboxStatus
    attempts: int
    created_at: float
    due_at: float
    last_error: str | None


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as stored: its kind (transition, decision, ...) and its fields as in `records.FIELDS`."""

    kind: str
    at: float
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One change of consent in a customer's history: scope (`email`, `email.newsletter`), source, time."""

    scope: str
    granted: bool
    source: str
    at: float


@dataclass(frozen=True, slots=True)
class Step:
    """Everything one engine step for one customer changes, committed together or not at all.

    `expected_version` is the version the state was loaded at (0 when the customer had none): if another
    step committed since, the commit fails with VersionConflict and nothing is written. `processed` are the
    seqs of the input events this step consumed; `cancelled_timers` are the timers cancelled or fired.
    `events` are events the step itself produced (emitted by a journey), logged as already processed.
    `absorbs` names a customer merged into this one: its state is deleted, and its timers and unprocessed
    events become this customer's. `consent` are the consent changes the step made, for the history.
    `segments_entered` and `segments_left` are the segment memberships the step began and ended.
    """

    workspace: str
    customer: str
    expected_version: int
    state: bytes
    at: float
    processed: Sequence[int] = ()
    timers: Sequence[ScheduleTimer] = ()
    cancelled_timers: Sequence[CancelTimer] = ()
    outbox: Sequence[OutboxEntry] = ()
    records: Sequence[Record] = ()
    events: Sequence[NewEvent] = ()
    absorbs: str | None = None
    consent: Sequence[ConsentEntry] = ()
    segments_entered: Sequence[str] = ()
    segments_left: Sequence[str] = ()


class Store(Protocol):
    """Durable storage for the runtime: workspaces, the event log, customer state, timers, the outbox."""

    def upgrade(self) -> int:
        """Apply every schema migration not yet applied; return the schema version. Safe to repeat."""
        ...

    def schema_version(self) -> int:
        """The schema version of the database (0 before the first upgrade)."""
        ...

    def close(self) -> None: ...

    # workspaces
    def create_workspace(self, workspace: str, *, at: float) -> WorkspaceKeys: ...

    def find_key(self, key: str) -> KeyMatch | None:
        """The workspace and role of a key, or None if no workspace has it."""
        ...

    def workspaces(self) -> list[str]: ...

    # the event log
    def append_events(self, workspace: str, events: Sequence[NewEvent]) -> list[bool]:
        """Store a batch durably; dedup by (workspace, messageId). One flag per input: True if it was new."""
        ...

    def pending_customers(self, workspace: str, *, limit: int) -> list[str]:
        """Customers with unprocessed events, the longest waiting first."""
        ...

    def next_events(self, workspace: str, customers: Collection[str], *, limit: int) -> list[StoredEvent]:
        """Up to `limit` unprocessed events per customer, in log order (so in per-customer order)."""
        ...

    def pending_events(self, workspace: str, *, customers: int, limit: int) -> list[StoredEvent]:
        """`next_events` of the first `customers` of `pending_customers`, in one call (and cheaper)."""
        ...

    # customer state
    def load_state(self, workspace: str, customer: str) -> StoredState | None: ...

    def load_states(self, workspace: str, customers: Collection[str]) -> dict[str, StoredState]:
        """The states of many customers in one query; customers without one are left out."""
        ...

    def commit_step(self, step: Step) -> int:
        """Commit a step in one transaction; return the state's new version."""
        ...

    def commit_steps(self, steps: Sequence[Step]) -> list[int | StoreConflict]:
        """Commit many steps in one transaction, each all or nothing: per step, its new version, or the
        conflict that kept it out (the others still commit). One durable commit for the whole batch."""
        ...

    # timers
    def claim_due_timers(self, workspace: str, now: float, *, limit: int, lease: float) -> list[DueTimer]:
        """Claim timers due at `now` for `lease` seconds, so no other caller gets them meanwhile."""
        ...

    def timers(self, workspace: str, customer: str) -> list[DueTimer]: ...

    # the outbox
    def claim_outbox(self, workspace: str, now: float, *, limit: int, lease: float) -> list[OutboxItem]:
        """Claim pending entries due at `now` for `lease` seconds, oldest first."""
        ...

    def mark_sent(self, workspace: str, key: str, *, at: float) -> None: ...

    def mark_failed(self, workspace: str, key: str, *, at: float, error: str, retry_at: float | None) -> None:
        """Count a failed attempt: retry at `retry_at`, or give up (status failed) when it is None."""
        ...

    def outbox_entry(self, workspace: str, key: str) -> OutboxItem | None: ...

    # records
    def records(self, workspace: str, customer: str) -> list[StoredRecord]:
        """The records committed for a customer, in commit order."""
        ...
