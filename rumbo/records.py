"""The append-only records: the one contract between the runtime, analytics, simulation and the trace.

The engine emits transition, decision, suppression and conversion records as it steps; the delivery side
adds delivery records; ingestion adds event records. Analytics reads the same records from the archive.

Times are UTC seconds since the epoch (float) in memory and `timestamp[us, UTC]` in the archive.
Records are values: never modify one after it is made. (They are not frozen dataclasses only because the
engine makes millions of them, and a frozen dataclass costs five times as much to construct.)
`FIELDS` gives each record's columns and their types in one place; the archive's schemas derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

Channel = Literal[
    "web", "app", "email", "sms", "push", "social", "paid", "chat", "store", "call_centre", "other"
]
CHANNELS: Final = (
    "web",
    "app",
    "email",
    "sms",
    "push",
    "social",
    "paid",
    "chat",
    "store",
    "call_centre",
    "other",
)

TransitionCause = Literal[
    "entered", "next", "event", "timeout", "jump", "goal", "exit_on", "stopped", "migrated"
]
TRANSITION_CAUSES: Final = (
    "entered",
    "next",
    "event",
    "timeout",
    "jump",
    "goal",
    "exit_on",
    "stopped",
    "migrated",
)

SuppressionReason = Literal[
    "no_consent", "frequency_cap", "quiet_hours", "arbitration_lost", "paused", "holdout", "no_channel"
]
SUPPRESSION_REASONS: Final = (
    "no_consent",
    "frequency_cap",
    "quiet_hours",
    "arbitration_lost",
    "paused",
    "holdout",
    "no_channel",
)

DeliveryStatus = Literal[
    "queued", "sent", "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed", "failed"
]
DELIVERY_STATUSES: Final = (
    "queued",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "complained",
    "unsubscribed",
    "failed",
)

# Column types: string, float (seconds or values), int, timestamp (epoch seconds in memory), json (any
# JSON value, stored as a JSON string in the archive).
FieldType = Literal["string", "int", "float", "timestamp", "json"]


@dataclass(slots=True)
class Transition:
    """A run moved from one node to another (from_node None on entry; to_node None on exit)."""

    workspace: str
    customer: str
    journey: str
    version: int
    run: str
    from_node: str | None
    to_node: str | None
    cause: TransitionCause
    input: str | None  # messageId of the event or id of the timer that caused it
    at: float
    variant: str | None = None  # the split arm the run is in, so every node can be read per variant
    # When the run entered from_node (None on entry, and where it was not known): the time spent in a node
    # is `at - since` on the transition that left it.
    since: float | None = None


@dataclass(slots=True)
class Decision:
    """A decide node chose an offer: the candidates with their scores, the chosen one, the policy."""

    workspace: str
    customer: str
    journey: str
    version: int
    run: str
    node: str
    candidates: tuple[tuple[str, float], ...]
    chosen: str | None
    policy: str
    at: float


@dataclass(slots=True)
class Suppression:
    """A send that the gate held back: dropped (deferred_until None) or deferred to a later time."""

    workspace: str
    customer: str
    journey: str
    version: int
    run: str
    node: str
    channel: str | None
    reason: SuppressionReason
    deferred_until: float | None
    at: float


@dataclass(slots=True)
class Delivery:
    """What became of one send, identified by its idempotency key."""

    workspace: str
    customer: str
    journey: str
    version: int
    run: str
    node: str
    send: str
    channel: str
    template: str
    variant: str | None
    status: DeliveryStatus
    at: float


@dataclass(slots=True)
class Conversion:
    """A run reached its journey's goal inside the conversion window."""

    workspace: str
    customer: str
    journey: str
    version: int
    run: str
    goal: str
    value: float | None
    at: float


Record = Transition | Decision | Suppression | Delivery | Conversion

FIELDS: Final[dict[str, dict[str, FieldType]]] = {
    "event": {
        "workspace": "string",
        "customer": "string",
        "messageId": "string",
        "type": "string",
        "event": "string",
        "userId": "string",
        "anonymousId": "string",
        "channel": "string",
        "timestamp": "timestamp",
        "received_at": "timestamp",
        "properties": "json",
        "traits": "json",
        "context": "json",
    },
    "transition": {
        "workspace": "string",
        "customer": "string",
        "journey": "string",
        "version": "int",
        "run": "string",
        "from_node": "string",
        "to_node": "string",
        "cause": "string",
        "input": "string",
        "at": "timestamp",
        "variant": "string",
        "since": "timestamp",
    },
    "decision": {
        "workspace": "string",
        "customer": "string",
        "journey": "string",
        "version": "int",
        "run": "string",
        "node": "string",
        "candidates": "json",
        "chosen": "string",
        "policy": "string",
        "at": "timestamp",
    },
    "suppression": {
        "workspace": "string",
        "customer": "string",
        "journey": "string",
        "version": "int",
        "run": "string",
        "node": "string",
        "channel": "string",
        "reason": "string",
        "deferred_until": "timestamp",
        "at": "timestamp",
    },
    "delivery": {
        "workspace": "string",
        "customer": "string",
        "journey": "string",
        "version": "int",
        "run": "string",
        "node": "string",
        "send": "string",
        "channel": "string",
        "template": "string",
        "variant": "string",
        "status": "string",
        "at": "timestamp",
    },
    "conversion": {
        "workspace": "string",
        "customer": "string",
        "journey": "string",
        "version": "int",
        "run": "string",
        "goal": "string",
        "value": "float",
        "at": "timestamp",
    },
}

KIND_OF: Final[dict[type, str]] = {
    Transition: "transition",
    Decision: "decision",
    Suppression: "suppression",
    Delivery: "delivery",
    Conversion: "conversion",
}


def record_kind(record: Record) -> str:
    """The archive table a record belongs to."""
    return KIND_OF[type(record)]


def record_to_dict(record: Record) -> dict[str, Any]:
    """A record as a plain dict with exactly the columns of FIELDS[kind]."""
    # Field by field rather than dataclasses.asdict, which deep-copies every value: the worker turns every
    # record it commits into a dict, and asdict was an eighth of its time. Only candidates are not scalars.
    data = {name: getattr(record, name) for name in record.__dataclass_fields__}
    if isinstance(record, Decision):
        data["candidates"] = [{"offer": o, "score": s} for o, s in record.candidates]
    return data
