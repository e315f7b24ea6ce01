"""The vocabulary shared by the predicate compiler and the engine that evaluates predicates.

`Type` is what the checker infers for each sub-expression; `Scope` is what the journey around a predicate
declares (is there a triggering event, which properties and traits have known types, which event and segment
names exist); `AggregateNeed` is what the runtime must keep per customer so that `count()` and `last()` can be
answered; `EvalContext` is the read-only view of one customer at one instant that a compiled predicate reads.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


class Type(enum.Enum):
    """The static type of an expression. Every type is implicitly nullable: a missing field is null."""

    ANY = "any"
    BOOL = "bool"
    NUMBER = "number"
    STRING = "string"
    NULL = "null"
    LIST = "list"
    SET = "set"
    OBJECT = "object"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class Scope:
    """What is known where a predicate is used; anything not declared has type ANY."""

    has_event: bool = True
    # Dotted keys under event.properties, e.g. "value" or "items.count".
    event_properties: Mapping[str, Type] = field(default_factory=dict)
    # Dotted keys under profile.traits.
    traits: Mapping[str, Type] = field(default_factory=dict)
    # Valid names for count()/last(); None means any name is accepted.
    known_events: frozenset[str] | None = None
    # Valid names for in_segment(); None means any name is accepted.
    segments: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class AggregateNeed:
    """Per-customer history the runtime must keep so that a predicate can be evaluated."""

    kind: Literal["count", "last"]
    event: str
    window: float | None  # seconds, for count (None = whole kept history); None for last


class EvalContext(Protocol):
    """One customer at one instant, as the engine presents it; read-only during evaluation.

    The data members are read-only properties in the protocol so that any class with plain attributes of
    these types (or narrower ones, such as a frozenset for tags) satisfies it.
    """

    @property
    def event(self) -> Mapping[str, Any] | None: ...
    @property
    def traits(self) -> Mapping[str, Any]: ...
    @property
    def consent(self) -> Mapping[str, bool]:
        """Keys "email", "sms", "email.newsletter", …"""
        ...

    @property
    def tags(self) -> Set[str]: ...
    @property
    def segments(self) -> Set[str]: ...
    @property
    def now(self) -> float:
        """Epoch seconds, UTC."""
        ...

    @property
    def timezone(self) -> str | None:
        """IANA name; None means UTC."""
        ...

    def count(self, event: str, since: float | None) -> int:
        """Number of kept events of that name with time >= since (None: all kept)."""
        ...

    def last(self, event: str) -> Mapping[str, Any] | None:
        """The most recent kept event of that name, or None."""
        ...
