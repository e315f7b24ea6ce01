"""The store's errors: driver exceptions (sqlite3, psycopg) are turned into these at the edge.

RumboError
└── StoreError                  the store could not do what was asked
    ├── StoreUnavailable        the database cannot be reached or stayed busy: retry later
    ├── SchemaOutOfDate         the tables are missing or older than this code: run `rumbo db upgrade`
    ├── SchemaTooNew            the database was upgraded by a newer rumbo: upgrade rumbo
    └── StoreConflict           the write contradicts what is stored; nothing was written
        ├── VersionConflict     another step saved this customer's state first (optimistic check)
        ├── EventsAlreadyProcessed  an input event of the step was consumed by another step
        ├── DuplicateCommand    an outbox idempotency key is already stored
        ├── OutboxNotPending    an outbox entry to mark is unknown, or already sent or given up
        └── WorkspaceExists     a workspace of that id already exists
"""

from __future__ import annotations

from rumbo.errors import RumboError


class StoreError(RumboError):
    """The store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The database cannot be reached, opened, or stayed locked: the operation may succeed if retried."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(
            f"store at {where} is unavailable: {reason} — check that the database is running and reachable "
            "(RUMBO_DATABASE_URL for PostgreSQL, RUMBO_HOME for the SQLite data directory), then retry"
        )


class SchemaOutOfDate(StoreError):
    """The store's tables are missing or older than this version of rumbo expects."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(
            f"store at {where} has no up-to-date schema ({reason}) — run `rumbo db upgrade` "
            "(Store.upgrade() in code)"
        )


class SchemaTooNew(StoreError):
    """The database was upgraded by a newer rumbo than this one; running on it could damage it."""

    def __init__(self, where: str, found: int, known: int) -> None:
        self.where = where
        self.found = found
        self.known = known
        super().__init__(
            f"store at {where} has schema version {found}, but this rumbo knows only up to {known} — "
            "upgrade rumbo to the version that wrote this database"
        )


class StoreConflict(StoreError):
    """The write contradicts what is stored; the whole transaction was rolled back."""


class VersionConflict(StoreConflict):
    """Another step saved this customer's state since it was loaded: reload it and run the step again."""

    def __init__(self, workspace: str, customer: str, expected: int, found: int) -> None:
        self.workspace = workspace
        self.customer = customer
        self.expected = expected
        self.found = found
        super().__init__(
            f"state of customer {customer!r} in workspace {workspace!r} is at version {found}, "
            f"the step expected {expected} — another worker committed first; reload and step again"
        )


class EventsAlreadyProcessed(StoreConflict):
    """An input event named by the step is unknown or was already consumed by another step."""

    def __init__(self, workspace: str, customer: str, seqs: list[int]) -> None:
        self.workspace = workspace
        self.customer = customer
        self.seqs = seqs
        super().__init__(
            f"events {seqs} of customer {customer!r} in workspace {workspace!r} are not pending "
            "(already processed, or not this customer's) — reload the customer's pending events"
        )


class DuplicateCommand(StoreConflict):
    """An outbox entry's idempotency key is already stored: the same command was produced twice."""

    def __init__(self, workspace: str, detail: str) -> None:
        self.workspace = workspace
        self.detail = detail
        super().__init__(
            f"an outbox idempotency key in workspace {workspace!r} is already stored ({detail}) — "
            "a command's key must name its journey version, node, customer and triggering input"
        )


class WorkspaceExists(StoreConflict):
    """A workspace with that id already exists."""

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace
        super().__init__(f"workspace {workspace!r} already exists — choose another id")


class OutboxNotPending(StoreConflict):
    """An outbox entry to be marked sent or failed is unknown, or was already sent or given up."""

    def __init__(self, workspace: str, key: str) -> None:
        self.workspace = workspace
        self.key = key
        super().__init__(
            f"outbox entry {key!r} in workspace {workspace!r} is not pending (unknown, sent or given up) — "
            "mark only entries returned by claim_outbox, once"
        )
