"""What a simulation predicts, with intervals across runs: plain dataclasses with `to_dict()`.

Each run is one draw from the model's posterior and one synthetic population, so the spread of a figure
across runs is its predictive spread. An Estimate gives the mean and a 95% prediction interval for one more
run: mean ± t(R-1) · sd · sqrt(1 + 1/R). With one run there is no interval (low = high = mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy import stats

from rumbo.journey.model import Journey
from rumbo.simulate.simulator import DAY, RunTally, Settings

LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class Estimate:
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        n = len(values)
        mean = sum(values) / n if n else 0.0
        if n < 2:
            return cls(mean, mean, mean)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * sd * math.sqrt(1 + 1 / n)
        return cls(mean, mean - half, mean + half)

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(slots=True)
class NodeEstimate:
    node: str
    reached: Estimate
    converted: Estimate  # runs that passed through the node and then reached the goal


@dataclass(slots=True)
class JourneyEstimate:
    journey: str
    draft: bool
    entered: Estimate
    converted: Estimate | None  # None when the journey has no goal
    rate: Estimate | None
    nodes: list[NodeEstimate]
    sends: dict[str, Estimate]  # by channel
    suppressed: dict[str, Estimate]  # dropped, by reason
    deferred: dict[str, Estimate]  # deferred, by reason
    messages_per_customer_week: Estimate
    total_sends: Estimate
    edges: list[tuple[str, str]] = field(default_factory=list)  # the graph, for the flow chart


@dataclass(slots=True)
class Collision:
    journey: str  # held back by the cap or arbitration
    rival: str  # had sent to the same customer shortly before
    count: Estimate


@dataclass(slots=True)
class SimulationReport:
    drafts: list[str]
    live: list[str]
    customers: int
    days: float
    runs: int
    seed: int
    holdout: float
    model: str
    conversion: str
    journeys: list[JourneyEstimate]
    messages_per_customer_week: Estimate
    sends_per_customer: dict[int, Estimate]  # customers by how many messages they got over the period
    collisions: list[Collision]
    costs: dict[str, Estimate]  # by channel
    total_cost: Estimate
    opened: dict[str, Estimate]  # rate per channel
    clicked: dict[str, Estimate]
    treated_conversions: Estimate  # conversion events per 1,000 customers the drafts could reach
    holdout_conversions: Estimate  # ... per 1,000 customers in the holdout
    uplift: Estimate  # treated − holdout, per 1,000 customers
    notes: list[str] = field(default_factory=list)
    per_run: list[float] = field(default_factory=list)  # treated conversions per 1,000, for comparisons

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sends_per_customer"] = {str(k): v for k, v in out["sends_per_customer"].items()}
        return out

    def journey(self, journey_id: str) -> JourneyEstimate:
        return next(j for j in self.journeys if j.journey == journey_id)


def _per(values: Sequence[float], denominators: Sequence[float], scale: float = 1.0) -> Estimate:
    return Estimate.of([scale * v / d if d else 0.0 for v, d in zip(values, denominators, strict=True)])


def summarise(
    tallies: Sequence[RunTally],
    drafts: Sequence[Journey],
    live: Sequence[Journey],
    settings: Settings,
    model: str,
    conversion: str,
) -> SimulationReport:
    """The report of R runs (one tally each)."""
    weeks = settings.days * DAY / (7 * DAY)

    def each(pick: Callable[[RunTally], float]) -> Estimate:
        return Estimate.of([float(pick(t)) for t in tallies])

    draft_ids = {j.id for j in drafts}
    journeys = [_journey(j, j.id in draft_ids, tallies, weeks) for j in [*drafts, *live]]
    treated = [t.customers - t.holdout_customers for t in tallies]
    held = [t.holdout_customers for t in tallies]
    treated_rate = [
        1000 * t.goal_events["treated"] / n if n else 0.0 for t, n in zip(tallies, treated, strict=True)
    ]
    held_rate = [
        1000 * t.goal_events["holdout"] / n if n else 0.0 for t, n in zip(tallies, held, strict=True)
    ]
    channels = sorted({c for t in tallies for _, c in t.sends})
    channel_sends = {
        c: [sum(v for (_, ch), v in t.sends.items() if ch == c) for t in tallies] for c in channels
    }
    costs = {c: Estimate.of([n * settings.costs.get(c, 0.0) for n in channel_sends[c]]) for c in channels}
    pairs = sorted({p for t in tallies for p in t.collisions})
    counts = sorted({k for t in tallies for k in t.sends_per_customer})
    notes = []
    unknown = sorted({k for t in tallies for k in t.unknown_responses})
    if unknown:
        notes.append(
            f"the model has no history of {', '.join(unknown)}: those sends were assumed to change nothing"
        )
    passive = [j.id for j in [*drafts, *live] if any(e.kind != "event" for e in j.entries)]
    if passive:
        notes.append(
            f"{', '.join(passive)}: entries from segments, schedules or API calls are not simulated "
            "(synthetic customers produce events only)"
        )
    if settings.runs < 5:
        notes.append(f"only {settings.runs} run(s): intervals are wide or missing — use --runs 5 or more")
    return SimulationReport(
        [j.id for j in drafts],
        [j.id for j in live],
        settings.customers,
        settings.days,
        settings.runs,
        settings.seed,
        settings.holdout,
        model,
        conversion,
        journeys,
        _per([sum(t.sends.values()) for t in tallies], [t.customers * weeks for t in tallies]),
        {k: each(lambda t, k=k: t.sends_per_customer[k]) for k in counts},  # type: ignore[misc]
        [Collision(a, b, each(lambda t, p=(a, b): t.collisions[p])) for a, b in pairs],  # type: ignore[misc]
        costs,
        Estimate.of(
            [
                sum(n * settings.costs.get(c, 0.0) for c, runs in channel_sends.items() for n in [runs[i]])
                for i in range(len(tallies))
            ]
        ),
        {c: _per([t.opened[c] for t in tallies], channel_sends[c]) for c in channels},
        {c: _per([t.clicked[c] for t in tallies], channel_sends[c]) for c in channels},
        Estimate.of(treated_rate),
        Estimate.of(held_rate),
        Estimate.of([a - b for a, b in zip(treated_rate, held_rate, strict=True)]),
        notes,
        treated_rate,
    )


def _journey(journey: Journey, draft: bool, tallies: Sequence[RunTally], weeks: float) -> JourneyEstimate:
    jid = journey.id

    def each(pick: Callable[[RunTally], float]) -> Estimate:
        return Estimate.of([float(pick(t)) for t in tallies])

    has_goal = journey.goal is not None
    reasons = sorted({r for t in tallies for (j, r) in (*t.suppressed, *t.deferred) if j == jid})
    channels = sorted({c for t in tallies for (j, c) in t.sends if j == jid})
    return JourneyEstimate(
        jid,
        draft,
        each(lambda t: t.entered[jid]),
        each(lambda t: t.converted[jid]) if has_goal else None,
        _per([t.converted[jid] for t in tallies], [t.entered[jid] for t in tallies]) if has_goal else None,
        [
            NodeEstimate(
                node,
                each(lambda t, n=node: t.nodes[(jid, n)]),  # type: ignore[misc]
                each(lambda t, n=node: t.node_converted[(jid, n)]),  # type: ignore[misc]
            )
            for node in journey.nodes
        ],
        {c: each(lambda t, c=c: t.sends[(jid, c)]) for c in channels},  # type: ignore[misc]
        {r: each(lambda t, r=r: t.suppressed[(jid, r)]) for r in reasons},  # type: ignore[misc]
        {r: each(lambda t, r=r: t.deferred[(jid, r)]) for r in reasons},  # type: ignore[misc]
        _per(
            [sum(v for (j, _), v in t.sends.items() if j == jid) for t in tallies],
            [t.customers * weeks for t in tallies],
        ),
        each(lambda t: sum(v for (j, _), v in t.sends.items() if j == jid)),
        _edges(journey),
    )


def _edges(journey: Journey) -> list[tuple[str, str]]:
    """(from, to) of the journey graph, from the document's `next` fields and the entry node."""
    edges = [("(entry)", journey.start)]
    nodes = journey.source.get("nodes", {}) if isinstance(journey.source, dict) else {}
    for name, spec in nodes.items():
        following = spec.get("next") if isinstance(spec, dict) else None
        targets = following.values() if isinstance(following, dict) else [following] if following else []
        edges.extend((name, str(t)) for t in targets if isinstance(t, str))
    return edges
