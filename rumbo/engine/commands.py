"""What the engine asks the runtime to do, plus the records it writes for analytics and the trace.

Commands are values: never modify one after it is made (not frozen only because construction is hot).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rumbo.records import Conversion, Decision, Suppression, Transition

TimerKind = Literal["wait", "timeout", "retry"]


@dataclass(slots=True)
class Send:
    """Deliver one message. `key` is the idempotency key: journey version, node, customer, input."""

    key: str
    customer: str
    journey: str
    version: int
    run: str
    node: str
    channel: str
    template: str
    at: float
    variant: str | None = None
    topic: str | None = None
    offer: str | None = None
    transactional: bool = False


@dataclass(slots=True)
class ScheduleTimer:
    customer: str
    run: str
    token: int
    at: float
    kind: TimerKind


@dataclass(slots=True)
class CancelTimer:
    customer: str
    run: str
    token: int


@dataclass(slots=True)
class UpdateProfile:
    customer: str
    set: Mapping[str, Any] = field(default_factory=dict)
    increment: Mapping[str, float] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()


@dataclass(slots=True)
class EmitEvent:
    """A track event for this customer; the runtime ingests it like any other (id is its messageId)."""

    customer: str
    id: str
    event: str
    properties: Mapping[str, Any]
    at: float


Command = (
    Send
    | ScheduleTimer
    | CancelTimer
    | UpdateProfile
    | EmitEvent
    | Transition
    | Decision
    | Suppression
    | Conversion
)
