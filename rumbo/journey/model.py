"""A compiled journey version: what the engine runs.

Everything that can be decided when a journey is published is decided here, once: predicates are compiled
callables, durations are seconds, `next` names are checked, split thresholds are cumulative, and the events
that matter to the journey are indexed so the engine finds them with one dict lookup per input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rumbo.expr import AggregateNeed, Expression, Predicate

EntryKind = Literal["event", "segment", "schedule", "api"]
Policy = Literal["priority", "propensity_value", "thompson"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One way in: on an event, on entering/leaving a segment, on a schedule, or by API call."""

    kind: EntryKind
    node: str
    event: str | None = None
    where: Predicate | None = None
    segment: str | None = None
    on: Literal["enter", "leave"] = "enter"
    cron: str | None = None
    timezone: str | None = None
    audience: str | None = None


@dataclass(frozen=True, slots=True)
class Reentry:
    """May a customer enter again? never; always; after a cooldown; at most `max` times (combinable)."""

    allowed: bool = False
    cooldown: float = 0.0
    max: int | None = None


@dataclass(frozen=True, slots=True)
class Goal:
    event: str
    within: float
    where: Predicate | None = None
    value: Expression | None = None
    exit: bool = True


@dataclass(frozen=True, slots=True)
class EventRule:
    """`exit_on` rules and `on` jumps: an event (and predicate) at any node; jumps name a target."""

    event: str
    where: Predicate | None = None
    goto: str | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    eligible: Predicate | None = None
    priority: float = 0.0
    value: float = 1.0
    propensity: float = 0.5
    template: str | None = None


@dataclass(frozen=True, slots=True)
class LocalWindow:
    """Local time of day [start, end) in minutes after midnight on some weekdays (0 = Monday)."""

    days: frozenset[int]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Node:
    id: str


@dataclass(frozen=True, slots=True)
class WaitNode(Node):
    next: str
    seconds: float | None = None
    window: LocalWindow | None = None
    until_trait: str | None = None
    offset: float = 0.0
    at: int | None = None  # minutes after local midnight for until_trait
    if_past: Literal["continue", "exit"] = "continue"


@dataclass(frozen=True, slots=True)
class WaitForNode(Node):
    event: str
    timeout: float
    happened: str
    timed_out: str
    where: Predicate | None = None


@dataclass(frozen=True, slots=True)
class BranchNode(Node):
    cases: tuple[tuple[Predicate, str], ...]
    otherwise: str


@dataclass(frozen=True, slots=True)
class SplitNode(Node):
    # (variant, cumulative upper bound in [0, 1)) over the non-holdout share, in document order
    variants: tuple[tuple[str, float], ...]
    holdout: float  # share in [0, 1)
    next: dict[
        str, str | None
    ]  # variant -> node; "holdout" -> node or None (leave, conversion still tracked)


@dataclass(frozen=True, slots=True)
class SendNode(Node):
    channel: str
    template: str
    next: str
    fallback: str | None = None
    topic: str | None = None
    transactional: bool = False
    on_conflict: Literal["defer", "skip"] = "defer"


@dataclass(frozen=True, slots=True)
class DecideNode(Node):
    offers: tuple[Offer, ...]
    policy: Policy
    chosen: str
    none: str


@dataclass(frozen=True, slots=True)
class UpdateNode(Node):
    next: str
    set: tuple[tuple[str, Any], ...] = ()  # value is a literal or an Expression
    increment: tuple[tuple[str, float], ...] = ()
    unset: tuple[str, ...] = ()
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EmitNode(Node):
    next: str
    event: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    start_journey: str | None = None


@dataclass(frozen=True, slots=True)
class ExitNode(Node):
    reason: str | None = None


AnyNode = (
    WaitNode | WaitForNode | BranchNode | SplitNode | SendNode | DecideNode | UpdateNode | EmitNode | ExitNode
)
WAITING_NODES = (WaitNode, WaitForNode)


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: int  # minutes after local midnight
    end: int


@dataclass(frozen=True, slots=True)
class Journey:
    """One immutable, compiled journey version."""

    id: str
    version: int
    nodes: dict[str, AnyNode]
    entries: tuple[Entry, ...]
    start: str
    title: str | None = None
    owner: str | None = None
    priority: float = 50.0
    expected_value: float = 1.0
    cap_group: str | None = None
    quiet_hours: QuietHours | bool | None = True  # True: the workspace's; False: none (transactional journey)
    concurrent_runs: bool = False
    reentry: Reentry = Reentry()
    goal: Goal | None = None
    exit_on: tuple[EventRule, ...] = ()
    jumps: tuple[EventRule, ...] = ()
    offers: dict[str, Offer] = field(default_factory=dict)
    needs: frozenset[AggregateNeed] = frozenset()
    source: dict[str, Any] = field(default_factory=dict)  # the document, for graphs, diffs and the UI

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

    def entry_events(self) -> frozenset[str]:
        return frozenset(e.event for e in self.entries if e.kind == "event" and e.event)

    def listened_events(self) -> frozenset[str]:
        """Every event name that can change a run of this journey once it is in."""
        names = {r.event for r in self.exit_on} | {r.event for r in self.jumps}
        names |= {n.event for n in self.nodes.values() if isinstance(n, WaitForNode)}
        if self.goal:
            names.add(self.goal.event)
        return frozenset(names)
