"""What identity resolution reports: merges (which are events in the log) and refused merges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rumbo.identity.identifiers import Identifier
from rumbo.identity.rules import RefusalReason

Cause = Literal["identify", "alias"]

MERGE_EVENT: str = "customers_merged"


@dataclass(frozen=True, slots=True)
class Merge:
    """`merged` was folded into `survivor`: its identifiers moved, and its data is to follow them.

    `input` is the messageId of the identify or alias call that linked them and `via` the identifiers of
    that call, so the trace can show which evidence joined the two profiles.
    """

    survivor: str
    merged: str
    identifiers: tuple[Identifier, ...]
    cause: Cause
    via: tuple[Identifier, ...]
    input: str
    at: float

    @property
    def id(self) -> str:
        """A stable id for the merge event: one merge per (call, merged customer)."""
        return f"merge:{self.input}:{self.merged}"

    @property
    def reason(self) -> str:
        linked = ", ".join(map(str, self.via))
        return f"{self.cause} linked {linked}"

    def to_event(self) -> dict[str, Any]:
        """The merge as a Segment-shaped track event on the survivor, so that it enters the event log."""
        return {
            "type": "track",
            "event": MERGE_EVENT,
            "messageId": self.id,
            "properties": {
                "survivor": self.survivor,
                "merged": self.merged,
                "identifiers": [{"kind": i.kind, "value": i.value} for i in self.identifiers],
                "cause": self.cause,
                "reason": self.reason,
                "input": self.input,
            },
        }


@dataclass(frozen=True, slots=True)
class Refusal:
    """A link the rules refused: `identifiers` stay on `kept_apart`'s side instead of joining `customer`."""

    customer: str
    kept_apart: str
    identifiers: tuple[Identifier, ...]
    reason: RefusalReason
    detail: str
    input: str
    at: float

    def __str__(self) -> str:
        ids = ", ".join(map(str, self.identifiers))
        return (
            f"refused to merge {self.kept_apart} ({ids}) into {self.customer}: {self.detail} "
            f"[{self.reason}, input {self.input}]"
        )


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of one identify or alias call.

    `customer` is who the call's message belongs to: the customer holding its strongest identifier.
    `created` lists customers that did not exist before the call (with no data yet); `merges` and
    `refusals` are in the order they happened.
    """

    customer: str
    created: tuple[str, ...] = ()
    merges: tuple[Merge, ...] = ()
    refusals: tuple[Refusal, ...] = field(default_factory=tuple)
