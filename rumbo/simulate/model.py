"""The behaviour model: per segment, a semi-Markov chain over event names, and responses to messages.

A segment's customers start with a first event drawn from `first` after a dwell from the start; each event
is followed by the next one drawn from `transitions[event]` (or by the end of their activity, `END`), after
a dwell drawn from the empirical distribution of that pair (or of the event when the pair is rare).
Messages act through `responses`: per channel/template, how often a send was opened, clicked and followed
by the conversion event, and how often that conversion would have happened anyway (`expected`, from the
customer's state when the message went out), so only the difference is credited to the message.

The model keeps counts, not probabilities: each simulation run draws its own probabilities from the
posterior (Dirichlet for transitions and segment shares, Beta for responses), so the spread across runs
carries the uncertainty of what was learned as well as the noise of the simulation.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from rumbo.simulate.errors import SimulationError

END = "__end__"
FORMAT = 1
QUANTILES = 21  # 0%, 5%, ..., 100%


@dataclass(slots=True)
class Dwell:
    """An empirical distribution of seconds, as quantiles; sampled by interpolating in log space."""

    quantiles: list[float]
    count: int

    @classmethod
    def of(cls, seconds: list[float]) -> Dwell:
        if not seconds:
            return cls([3600.0] * QUANTILES, 0)
        values = np.quantile(np.asarray(seconds, dtype=float), np.linspace(0, 1, QUANTILES))
        return cls([round(float(v), 3) for v in values], len(seconds))

    def sample(self, u: float) -> float:
        position = u * (QUANTILES - 1)
        index = min(int(position), QUANTILES - 2)
        low, high = math.log1p(self.quantiles[index]), math.log1p(self.quantiles[index + 1])
        return math.expm1(low + (high - low) * (position - index))

    def quantile(self, q: float) -> float:
        return self.sample(q)


@dataclass(slots=True)
class Response:
    """How customers answered sends on one channel/template: counts over `sends` messages."""

    sends: int = 0
    opened: int = 0
    clicked: int = 0
    converted: float = 0.0  # sends followed by the conversion event within the model's window
    expected: float = 0.0  # of those, how many the customers' states predict without any message
    delay: Dwell = field(default_factory=lambda: Dwell.of([]))  # send -> conversion, when it happened

    @property
    def lift(self) -> float:
        """Extra chance of converting within the window because of the message (never below 0)."""
        if not self.sends:
            return 0.0
        base = self.expected / self.sends
        return max(0.0, (self.converted / self.sends - base) / (1 - base)) if base < 1 else 0.0


@dataclass(slots=True)
class SegmentModel:
    """How one segment behaves; see the module docstring."""

    customers: int
    first: dict[str, int]
    first_dwell: Dwell
    transitions: dict[str, dict[str, int]]
    dwell: dict[str, Dwell]  # per event, pooled over what follows it
    pair_dwell: dict[str, Dwell]  # "event>next", where that pair is common enough
    properties: dict[str, list[dict[str, Any]]]  # a sample of each event's properties
    traits: list[dict[str, Any]]  # a sample of the segment's identify traits
    baseline_conversions: int  # conversion events with no message in the window before them
    baseline_weeks: float  # customer-weeks with no message in the window before them

    @property
    def baseline_weekly(self) -> float:
        """Conversions per customer per week without messages."""
        return self.baseline_conversions / self.baseline_weeks if self.baseline_weeks else 0.0


@dataclass(slots=True)
class BehaviourModel:
    """Everything a simulation needs to draw synthetic customers; saved as JSON."""

    conversion: str  # the event that counts as converting (for responses, baselines and uplift)
    window: float  # seconds after a send within which a conversion is credited to it
    segment_by: str  # the trait that names a customer's segment
    segments: dict[str, SegmentModel]
    responses: dict[str, Response]  # "channel/template" and "channel"
    source: str = ""
    start: float = 0.0
    end: float = 0.0
    events: int = 0

    @property
    def days(self) -> float:
        return (self.end - self.start) / 86400

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        return target

    @classmethod
    def load(cls, path: str | Path) -> BehaviourModel:
        source = Path(path)
        try:
            data = orjson.loads(source.read_bytes())
        except OSError as exc:
            raise SimulationError(
                f"{source}: cannot read the model ({exc.strerror}) — check the path"
            ) from exc
        except orjson.JSONDecodeError as exc:
            raise SimulationError(
                f"{source}: not a JSON model ({exc}) — make one with `rumbo simulate fit`"
            ) from exc
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise SimulationError(
                f"{source}: not a rumbo behaviour model (missing or bad field {exc}) — "
                "make one with `rumbo simulate fit`"
            ) from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BehaviourModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        segments = {
            name: SegmentModel(
                int(s["customers"]),
                dict(s["first"]),
                Dwell(**s["first_dwell"]),
                {k: dict(v) for k, v in s["transitions"].items()},
                {k: Dwell(**v) for k, v in s["dwell"].items()},
                {k: Dwell(**v) for k, v in s["pair_dwell"].items()},
                {k: list(v) for k, v in s["properties"].items()},
                list(s["traits"]),
                int(s["baseline_conversions"]),
                float(s["baseline_weeks"]),
            )
            for name, s in data["segments"].items()
        }
        responses = {
            key: Response(
                r["sends"], r["opened"], r["clicked"], r["converted"], r["expected"], Dwell(**r["delay"])
            )
            for key, r in data["responses"].items()
        }
        return cls(
            str(data["conversion"]),
            float(data["window"]),
            str(data["segment_by"]),
            segments,
            responses,
            str(data.get("source", "")),
            float(data.get("start", 0.0)),
            float(data.get("end", 0.0)),
            int(data.get("events", 0)),
        )

    def draw(self, seed: int) -> DrawnModel:
        """One set of probabilities from the posterior of the counts (see the module docstring)."""
        if not self.segments:
            raise SimulationError("the model has no segments: it was learned from an empty history")
        rng = np.random.default_rng(seed)
        names = sorted(self.segments)
        shares = rng.dirichlet([self.segments[n].customers + 0.5 for n in names])
        drawn = [_draw_segment(name, self.segments[name], rng) for name in names]
        lifts = {}
        for key, response in sorted(self.responses.items()):
            if not response.sends:
                continue
            n = response.sends
            converted = rng.beta(1 + response.converted, 1 + max(n - response.converted, 0.0))
            base = rng.beta(1 + response.expected, 1 + max(n - response.expected, 0.0))
            lift = max(0.0, (converted - base) / (1 - base)) if base < 1 else 0.0
            lifts[key] = DrawnResponse(
                lift, (response.opened + 0.5) / (n + 1), (response.clicked + 0.5) / (n + 1), response.delay
            )
        return DrawnModel(self, list(np.cumsum(shares)), drawn, lifts)


@dataclass(slots=True)
class DrawnResponse:
    lift: float
    opened: float
    clicked: float
    delay: Dwell


@dataclass(slots=True)
class Choice:
    """A categorical distribution ready to sample: names and cumulative probabilities."""

    names: list[str]
    cumulative: list[float]

    def pick(self, u: float) -> str:
        return self.names[
            min(bisect.bisect_right(self.cumulative, u * self.cumulative[-1]), len(self.names) - 1)
        ]


class Sampler:
    """A Dwell ready to sample fast: its quantiles' logarithms computed once."""

    __slots__ = ("logs",)

    def __init__(self, dwell: Dwell) -> None:
        self.logs = [math.log1p(q) for q in dwell.quantiles]

    def sample(self, u: float) -> float:
        position = u * (QUANTILES - 1)
        index = min(int(position), QUANTILES - 2)
        low = self.logs[index]
        return math.expm1(low + (self.logs[index + 1] - low) * (position - index))


@dataclass(slots=True)
class DrawnSegment:
    name: str
    model: SegmentModel
    first: Choice
    transitions: dict[str, Choice]
    first_dwell: Sampler
    dwells: dict[tuple[str, str], Sampler]  # (event, next) -> its pair's dwell, or the event's
    properties: dict[str, list[dict[str, Any]]]

    def dwell(self, event: str, following: str) -> Sampler:
        found = self.dwells.get((event, following))
        return found if found is not None else self.first_dwell


@dataclass(slots=True)
class DrawnModel:
    """One posterior draw of a BehaviourModel: what one simulation run uses."""

    model: BehaviourModel
    shares: list[float]
    segments: list[DrawnSegment]
    responses: dict[str, DrawnResponse]

    def segment(self, u: float) -> DrawnSegment:
        return self.segments[
            min(bisect.bisect_right(self.shares, u * self.shares[-1]), len(self.segments) - 1)
        ]

    def response(self, channel: str, template: str) -> DrawnResponse | None:
        return self.responses.get(f"{channel}/{template}") or self.responses.get(channel)


def _choice(counts: Mapping[str, float], rng: np.random.Generator) -> Choice:
    names = sorted(counts)
    probabilities = rng.dirichlet([counts[n] + 0.01 for n in names]) if len(names) > 1 else [1.0]
    return Choice(names, [float(x) for x in np.cumsum(probabilities)])


def _draw_segment(name: str, segment: SegmentModel, rng: np.random.Generator) -> DrawnSegment:
    first = _choice(segment.first, rng) if segment.first else Choice([END], [1.0])
    transitions = {event: _choice(following, rng) for event, following in sorted(segment.transitions.items())}
    pooled = {event: Sampler(dwell) for event, dwell in segment.dwell.items()}
    dwells = {}
    for event, choice in transitions.items():
        for following in choice.names:
            pair = segment.pair_dwell.get(f"{event}>{following}")
            sampler = Sampler(pair) if pair is not None else pooled.get(event)
            if sampler is not None:
                dwells[(event, following)] = sampler
    return DrawnSegment(
        name, segment, first, transitions, Sampler(segment.first_dwell), dwells, segment.properties
    )
