"""A customer as the engine sees it: profile, consent, kept aggregates, runs, and recent sends.

The engine never mutates a Customer it was given: a step works on a copy whose containers are copied only
when first written (see step.py), so a failed step leaves the caller's state exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_VERSIONS: dict[tuple[str, int], tuple[str, int]] = {}
_ARMS: dict[tuple[str, int, str | None], tuple[str, int, str | None]] = {}


def shared_pair(journey: str, version: int) -> tuple[str, int]:
    """One (journey, version) tuple per journey version, shared by all of its runs."""
    pair = (journey, version)
    return _VERSIONS.setdefault(pair, pair)


def shared_arm(journey: str, version: int, variant: str | None) -> tuple[str, int, str | None]:
    """One (journey, version, variant) tuple per journey version and split arm, shared by all of its runs."""
    arm = (journey, version, variant)
    return _ARMS.setdefault(arm, arm)


class Run:
    """One customer's pass through one journey version. Kept small: millions may wait at once, so the
    journey, version and split arm live in one tuple shared by every run in that arm (`of`) rather than in
    three slots, and `since` is the very float of `entered_at` until the run moves on after a wait."""

    __slots__ = ("entered_at", "id", "node", "of", "since", "timer", "vars")

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
        since: float | None = None,
    ) -> None:
        self.id = id
        self.of = shared_arm(journey, version, variant)
        self.node = node
        self.entered_at = entered_at
        # When the run entered `node` (its entry time unless given); None only where it is not known
        # (a state stored before it was kept), set after construction.
        self.since: float | None = entered_at if since is None else since
        self.timer = timer  # token of the pending timer; 0 when none is pending
        self.vars = vars  # per-run values (chosen offer, deferral count), None when empty

    @property
    def journey(self) -> str:
        return self.of[0]

    @property
    def version(self) -> int:
        return self.of[1]

    @version.setter
    def version(self, version: int) -> None:
        self.of = shared_arm(self.of[0], version, self.of[2])

    @property
    def variant(self) -> str | None:
        """The split arm the run is in; None before (or without) a split."""
        return self.of[2]

    @variant.setter
    def variant(self, variant: str | None) -> None:
        self.of = shared_arm(self.of[0], self.of[1], variant)

    @property
    def pair(self) -> tuple[str, int]:
        """The (journey, version) the run belongs to, as `shared_pair` gives it."""
        return shared_pair(self.of[0], self.of[1])

    @classmethod
    def entering(cls, id: str, of: tuple[str, int, str | None], node: str, at: float) -> Run:
        """A run that enters its journey now; `of` is what `shared_arm` gives for its journey version with
        no arm. Built slot by slot: a run starts on most inputs, and `__init__` would look `of` up again."""
        run = cls.__new__(cls)
        run.id = id
        run.of = of
        run.node = node
        run.entered_at = run.since = at
        run.timer = 0
        run.vars = None
        return run

    def clone(self) -> Run:
        twin = Run.__new__(Run)
        twin.id, twin.of, twin.node, twin.entered_at = self.id, self.of, self.node, self.entered_at
        twin.since, twin.timer, twin.vars = self.since, self.timer, dict(self.vars) if self.vars else None
        return twin

    def as_dict(self) -> dict[str, Any]:
        fields = {s: getattr(self, s) for s in Run.__slots__ if s != "of"}
        return {**fields, "journey": self.journey, "version": self.version, "variant": self.variant}

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
        return tz if isinstance(tz, str) and tz else None

    def copy(self) -> Customer:
        """A shallow copy: containers are shared until the step that owns the copy writes to them."""
        new = Customer.__new__(Customer)
        new.id = self.id
        new.traits = self.traits
        new.consent = self.consent
        new.tags = self.tags
        new.segments = self.segments
        new.runs = self.runs
        new.entries = self.entries
        new.counts = self.counts
        new.last = self.last
        new.sends = self.sends
        new.trackers = self.trackers
        new.seq = self.seq
        return new

    def same_state(self, other: Customer) -> bool:
        """True if every field of both is the same object: a copy nobody wrote to."""
        return (
            self.runs is other.runs
            and self.entries is other.entries
            and self.traits is other.traits
            and self.consent is other.consent
            and self.counts is other.counts
            and self.last is other.last
            and self.trackers is other.trackers
            and self.sends is other.sends
            and self.tags is other.tags
            and self.segments is other.segments
            and self.seq == other.seq
            and self.id == other.id
        )

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
