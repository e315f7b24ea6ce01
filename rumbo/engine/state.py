"""A customer as the engine sees it: profile, consent, kept aggregates, runs, and recent sends.

The engine never mutates a Customer it was given: a step works on a copy whose containers are copied only
when first written (see step.py), so a failed step leaves the caller's state exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Run:
    """One customer's pass through one journey version. Kept small: thousands wait per customer base."""

    __slots__ = ("entered_at", "id", "journey", "node", "timer", "variant", "vars", "version")

    def __init__(
        self,
        id: str,
        journey: str,
        version: int,
        node: str,
        entered_at: float,
        variant: str | None = None,
        timer: int = 0,
        vars: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.journey = journey
        self.version = version
        self.node = node
        self.entered_at = entered_at
        self.variant = variant
        self.timer = timer  # token of the pending timer; 0 when none is pending
        self.vars = vars  # per-run values (chosen offer, deferral count), None when empty

    def clone(self) -> Run:
        return Run(
            self.id,
            self.journey,
            self.version,
            self.node,
            self.entered_at,
            self.variant,
            self.timer,
            dict(self.vars) if self.vars else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in Run.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Run({self.id!r}, {self.journey!r}@{self.version} at {self.node!r}, timer={self.timer})"


# (journey, version, run, entered_at, deadline, variant): a finished run whose goal may still be reached.
Tracker = tuple[str, int, str, float, float, str | None]
# (at, channel, journey, score, cap_group): what was sent recently, for caps and arbitration.
SentRecord = tuple[float, str, str, float, str | None]


class Customer:
    """Everything the engine needs to know about one customer."""

    __slots__ = (
        "consent",
        "counts",
        "entries",
        "id",
        "last",
        "runs",
        "segments",
        "sends",
        "seq",
        "tags",
        "trackers",
        "traits",
    )

    def __init__(
        self,
        id: str,
        traits: Mapping[str, Any] | None = None,
        consent: Mapping[str, bool] | None = None,
        tags: frozenset[str] = frozenset(),
        segments: frozenset[str] = frozenset(),
    ) -> None:
        self.id = id
        self.traits: dict[str, Any] = dict(traits or {})
        self.consent: dict[str, bool] = dict(consent or {})
        self.tags = tags
        self.segments = segments
        self.runs: dict[str, Run] = {}
        self.entries: dict[str, tuple[int, float]] = {}  # journey -> (times entered, last entry time)
        self.counts: dict[str, tuple[float, ...]] = {}  # event -> times it happened, within the kept window
        self.last: dict[str, Mapping[str, Any]] = {}  # event -> the last such event
        self.sends: tuple[SentRecord, ...] = ()
        self.trackers: tuple[Tracker, ...] = ()
        self.seq = 0  # source of timer tokens

    @property
    def timezone(self) -> str | None:
        tz = self.traits.get("timezone")
        return tz if isinstance(tz, str) else None

    def copy(self) -> Customer:
        """A shallow copy: containers are shared until the step that owns the copy writes to them."""
        new = Customer.__new__(Customer)
        new.id, new.traits, new.consent, new.tags, new.segments = (
            self.id,
            self.traits,
            self.consent,
            self.tags,
            self.segments,
        )
        new.runs, new.entries, new.counts, new.last = self.runs, self.entries, self.counts, self.last
        new.sends, new.trackers, new.seq = self.sends, self.trackers, self.seq
        return new

    def runs_of(self, journey: str) -> list[Run]:
        return [r for r in self.runs.values() if r.journey == journey]

    def as_dict(self) -> dict[str, Any]:
        """A plain, comparable view (used by tests and the trace)."""
        out = {s: getattr(self, s) for s in Customer.__slots__}
        out["runs"] = {k: r.as_dict() for k, r in self.runs.items()}
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Customer) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Customer({self.id!r}, runs={list(self.runs.values())})"
