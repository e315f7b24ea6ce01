"""How well a model fits history it was not learned from, so a user knows when to trust it.

The history is split in time: the model is learned from the first part and simulated over the whole span
with as many customers as the history has; the held-out part is then compared with the prediction:
conversion events per customer per week, and the mix of event names. Give the journeys that ran during
the history, and the simulation runs them through the engine so that their messages act as they did;
without them it is behaviour only, and a history where messages drove many conversions looks
under-predicted (the report says so).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rumbo.engine.rand import seed as stable_seed
from rumbo.journey.model import Journey
from rumbo.simulate.behaviour import Behaviour
from rumbo.simulate.errors import SimulationError
from rumbo.simulate.history import History, Seen
from rumbo.simulate.learn import fit_model
from rumbo.simulate.model import BehaviourModel
from rumbo.simulate.report import Estimate
from rumbo.simulate.simulator import Settings, generate_history

WEEK = 7 * 86400.0
MIX_EVENTS = 12  # the most common event names shown in the mix; the rest are "other"


@dataclass(slots=True)
class WeekFit:
    week: str  # first day of the week (ISO date)
    observed: float  # conversion events per customer
    predicted: Estimate


@dataclass(slots=True)
class MixFit:
    event: str
    observed: float  # share of all held-out events
    predicted: float


@dataclass(slots=True)
class FitReport:
    conversion: str
    customers: int
    trained_until: str
    held_out: str
    weeks: list[WeekFit]
    mix: list[MixFit]
    weekly_error: float  # mean |predicted − observed| / mean observed
    covered: float  # share of weeks whose observed value is inside the predicted interval
    mix_distance: float  # total variation distance between the event mixes (0 same, 1 disjoint)
    verdict: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _day(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


def fit_report(
    history: History,
    conversion: str = "order_completed",
    segment_by: str = "segment",
    window: float = 3 * 86400.0,
    held_out: float = 0.3,
    runs: int = 5,
    seed: int = 1,
    journeys: Sequence[Journey] = (),
) -> FitReport:
    """Learn on the first (1 − held_out) of the span, predict the rest, compare (see the module docstring)."""
    if not 0 < held_out < 1:
        raise SimulationError(f"--held-out {held_out} must be between 0 and 1, for instance 0.3")
    # The last thousandth of events is left out of the span: stragglers recorded after the bulk of the
    # history stopped (late surveys, back-filled imports) would otherwise make an empty last week.
    start, end = (
        history.start,
        history.events[int(0.999 * (len(history.events) - 1))].at if history.events else 0.0,
    )
    if end - start < 2 * 86400:
        raise SimulationError(
            f"{history.source or 'the history'} spans less than two days: too short to hold part of it out"
        )
    split = start + (end - start) * (1 - held_out)
    model = fit_model(history.between(start, split), conversion, segment_by, window, end=split)
    customers = len({e.customer for e in history.events})
    buckets = max(1, int(-(-(end - split) // WEEK)))
    observed_weeks = [0.0] * buckets
    observed_mix: Counter[str] = Counter()
    for event in history.events:
        if split <= event.at < end:
            observed_mix[event.name] += 1
            if event.name == conversion:
                observed_weeks[int((event.at - split) // WEEK)] += 1 / customers
    predicted_weeks: list[list[float]] = [[] for _ in range(buckets)]
    predicted_mix: Counter[str] = Counter()
    for run in range(runs):
        if journeys:
            settings = Settings(customers, (end - start) / 86400, 1, seed, 0.0, start=start)
            events = generate_history(model, journeys, settings, run).events
            weeks, mix = _count(events, customers, split, end, model.conversion, buckets)
        else:
            weeks, mix = _predict(model, customers, start, split, end, seed, run, buckets)
        for index, value in enumerate(weeks):
            predicted_weeks[index].append(value)
        predicted_mix.update(mix)
    weeks_fit = [
        WeekFit(_day(split + i * WEEK), round(observed_weeks[i], 5), Estimate.of(predicted_weeks[i]))
        for i in range(buckets)
    ]
    mean_observed = sum(observed_weeks) / buckets
    error = (
        sum(abs(w.predicted.mean - w.observed) for w in weeks_fit) / buckets / mean_observed
        if mean_observed
        else float("inf")
    )
    covered = sum(w.predicted.contains(w.observed) for w in weeks_fit) / buckets
    mixes = _mix(observed_mix, predicted_mix)
    distance = 0.5 * sum(abs(m.observed - m.predicted) for m in mixes)
    notes = []
    if mean_observed == 0:
        notes.append(f"no {conversion!r} events in the held-out part: conversions cannot be checked")
    if not journeys and history.deliveries:
        notes.append(
            f"the history holds {len(history.deliveries):,} deliveries but no journeys were given: the "
            "prediction leaves their effect out — give the journeys that ran (--with-live)"
        )
    if buckets < 3:
        notes.append("fewer than three held-out weeks: give a longer history for a firmer check")
    return FitReport(
        conversion,
        customers,
        _day(split),
        f"{_day(split)} to {_day(end)}",
        weeks_fit,
        mixes,
        round(error, 4),
        round(covered, 4),
        round(distance, 4),
        _verdict(error, distance),
        notes,
    )


def _verdict(error: float, distance: float) -> str:
    if error <= 0.15 and distance <= 0.1:
        return "good: predictions follow held-out history closely"
    if error <= 0.3 and distance <= 0.2:
        return "usable: trust differences between drafts more than absolute figures"
    return "poor: the model does not reproduce held-out history — use more history or check the segments"


def _predict(
    model: BehaviourModel,
    customers: int,
    start: float,
    split: float,
    end: float,
    seed: int,
    run: int,
    buckets: int,
) -> tuple[list[float], Counter[str]]:
    drawn = model.draw(stable_seed(seed, run, "fit"))
    weeks = [0.0] * buckets
    mix: Counter[str] = Counter()
    for number in range(customers):
        rng = random.Random(stable_seed(seed, run, number, "fit"))
        behaviour = Behaviour(drawn.segment(rng.random()), rng, start, model.conversion)
        while behaviour.next_at < end:
            name, at, _ = behaviour.pop()
            if at >= split:
                mix[name] += 1
                if name == model.conversion:
                    weeks[int((at - split) // WEEK)] += 1 / customers
    return weeks, mix


def _count(
    events: Sequence[Seen], customers: int, split: float, end: float, conversion: str, buckets: int
) -> tuple[list[float], Counter[str]]:
    weeks = [0.0] * buckets
    mix: Counter[str] = Counter()
    for event in events:
        if split <= event.at < end:
            mix[event.name] += 1
            if event.name == conversion:
                weeks[int((event.at - split) // WEEK)] += 1 / customers
    return weeks, mix


def _mix(observed: Counter[str], predicted: Counter[str]) -> list[MixFit]:
    total_o, total_p = sum(observed.values()) or 1, sum(predicted.values()) or 1
    top = [name for name, _ in (observed + predicted).most_common(MIX_EVENTS)]
    rows = [MixFit(n, round(observed[n] / total_o, 4), round(predicted[n] / total_p, 4)) for n in top]
    rest_o = 1 - sum(observed[n] for n in top) / total_o
    rest_p = 1 - sum(predicted[n] for n in top) / total_p
    if rest_o > 0.0001 or rest_p > 0.0001:
        rows.append(MixFit("other", round(rest_o, 4), round(rest_p, 4)))
    return rows
