"""The simulator: synthetic customers drawn from a BehaviourModel, driven through the real Engine on
virtual time, one customer at a time.

Customers do not interact in the engine (every step reads and writes one customer), so each one is run
from start to horizon on its own: its events come from its Behaviour, its timers from a small heap of its
own, with the same order as the runtime (timers due at or before an event fire first; emitted events are
fed back at once). What the engine asks for is tallied, never carried out; sends go to the behaviour
model, which may answer with a conversion. A share of customers (the holdout) never meets the drafts:
they run with the live journeys only, so uplift is measured against customers the drafts left alone.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rumbo.engine.commands import CancelTimer, EmitEvent, ScheduleTimer, Send
from rumbo.engine.inputs import EventInput, Input, TimerFired
from rumbo.engine.policy import Policy
from rumbo.engine.rand import seed as stable_seed
from rumbo.engine.rand import unit
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.errors import EngineError
from rumbo.journey.model import Journey
from rumbo.records import Conversion, Suppression, Transition
from rumbo.simulate.behaviour import Behaviour
from rumbo.simulate.errors import SimulationError
from rumbo.simulate.history import Delivered, History, Seen
from rumbo.simulate.model import BehaviourModel, DrawnModel

START = 1_772_409_600.0  # 2026-03-02 00:00 UTC, a Monday, as in the demo
DAY = 86400.0
DEFAULT_COSTS: Mapping[str, float] = {
    "email": 0.001,
    "push": 0.0005,
    "sms": 0.04,
    "inbox": 0.0,
    "webhook": 0.0,
}
ADDRESS_TRAITS = {"email": "{id}@sim.example", "phone": "+0{n}", "push_token": "sim-{n}"}


@dataclass(frozen=True, slots=True)
class Settings:
    customers: int = 1000
    days: float = 30.0
    runs: int = 5
    seed: int = 1
    holdout: float = 0.1  # share of customers the drafts never meet
    start: float = START
    costs: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_COSTS))
    policy: Policy = field(default_factory=lambda: Policy(workspace="simulation"))

    def check(self) -> None:
        if self.customers < 1 or self.days <= 0 or self.runs < 1:
            raise SimulationError("--customers, --days and --runs must be at least 1")
        if not 0 <= self.holdout < 1:
            raise SimulationError(f"--holdout {self.holdout} must be in [0, 1), for instance 0.1")


@dataclass(slots=True)
class RunTally:
    """What one run produced, counted."""

    customers: int = 0
    holdout_customers: int = 0
    inputs: int = 0
    refused: int = 0
    entered: Counter[str] = field(default_factory=Counter)
    converted: Counter[str] = field(default_factory=Counter)
    value: dict[str, float] = field(default_factory=dict)
    nodes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (journey, node) -> runs reaching it
    node_converted: Counter[tuple[str, str]] = field(default_factory=Counter)
    sends: Counter[tuple[str, str]] = field(default_factory=Counter)  # (journey, channel)
    opened: Counter[str] = field(default_factory=Counter)  # by channel
    clicked: Counter[str] = field(default_factory=Counter)
    unknown_responses: Counter[str] = field(default_factory=Counter)  # channel/template the model lacks
    suppressed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (journey, reason), dropped
    deferred: Counter[tuple[str, str]] = field(default_factory=Counter)  # (journey, reason), deferred
    collisions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (held back, rival that sent)
    sends_per_customer: Counter[int] = field(default_factory=Counter)
    goal_events: Counter[str] = field(default_factory=Counter)  # "treated" / "holdout" conversion events


class Simulator:
    """Runs `drafts` (with `live` journeys alongside) over customers drawn from `model`."""

    def __init__(
        self,
        model: BehaviourModel,
        drafts: Sequence[Journey],
        live: Sequence[Journey] = (),
        settings: Settings | None = None,
    ) -> None:
        self.model = model
        self.settings = settings or Settings()
        self.settings.check()
        draft_ids = {j.id for j in drafts}
        others = [j for j in live if j.id not in draft_ids]
        self.drafts = list(drafts)
        self.live = others
        self.engine = Engine([*drafts, *others], self.settings.policy)
        self.holdout_engine = Engine(others, self.settings.policy)
        self.recorded: list[tuple[str, Input, float]] | None = None
        self.history: History | None = None  # when set, every event and send is written to it

    def record_inputs(self) -> None:
        """Keep every (customer, input, now) given to the engine, to replay them on a bare Engine."""
        self.recorded = []

    def run(self, index: int) -> RunTally:
        """One run: its own posterior draw of the model, its own customers' randomness."""
        settings = self.settings
        drawn = self.model.draw(stable_seed(settings.seed, index, "model"))
        tally = RunTally()
        for number in range(settings.customers):
            customer = f"sim-{number:06d}"
            holdout = unit(settings.seed, customer, "holdout") < settings.holdout
            rng = random.Random(stable_seed(settings.seed, index, customer))
            _CustomerRun(self, drawn, tally, customer, number, holdout, rng).run()
        return tally

    def runs(self) -> list[RunTally]:
        return [self.run(index) for index in range(self.settings.runs)]


def generate_history(
    model: BehaviourModel, journeys: Sequence[Journey], settings: Settings, run: int = 0
) -> History:
    """Synthetic history from a known model: what one run's customers did and were sent, as if recorded.

    Used to check the whole loop (generate from a known model, learn, simulate, compare) and to make
    example data; the journeys act on the customers, so the history carries the messages' effects."""
    simulator = Simulator(model, journeys, (), settings)
    simulator.history = history = History(source=f"generated from a known model (seed {settings.seed})")
    simulator.run(run)
    history.events.sort(key=lambda e: e.at)
    history.deliveries.sort(key=lambda d: d.at)
    history.messages.sort(key=lambda m: float(m["timestamp"]))
    return history


class _CustomerRun:
    """One customer from start to horizon (see the module docstring)."""

    __slots__ = (
        "behaviour",
        "cancelled",
        "converted_runs",
        "customer",
        "drawn",
        "engine",
        "holdout",
        "id",
        "number",
        "run_nodes",
        "sends",
        "sim",
        "tally",
        "timers",
    )

    def __init__(
        self,
        sim: Simulator,
        drawn: DrawnModel,
        tally: RunTally,
        customer: str,
        number: int,
        holdout: bool,
        rng: random.Random,
    ) -> None:
        self.sim, self.drawn, self.tally, self.id, self.number, self.holdout = (
            sim,
            drawn,
            tally,
            customer,
            number,
            holdout,
        )
        self.engine = sim.holdout_engine if holdout else sim.engine
        segment = drawn.segment(rng.random())
        self.behaviour = Behaviour(segment, rng, sim.settings.start, drawn.model.conversion)
        self.customer = Customer(customer)
        self.timers: list[tuple[float, int, str, int]] = []
        self.cancelled: set[tuple[str, int]] = set()
        self.run_nodes: dict[str, set[str]] = {}
        self.converted_runs: set[str] = set()
        self.sends = 0

    def run(self) -> None:
        settings, tally, behaviour, timers = self.sim.settings, self.tally, self.behaviour, self.timers
        horizon = settings.start + settings.days * DAY
        tally.customers += 1
        tally.holdout_customers += self.holdout
        self.apply(self.identify(), settings.start)
        count, conversion, recording = 0, self.drawn.model.conversion, self.sim.history is not None
        group = "holdout" if self.holdout else "treated"
        cancelled, apply, pop = self.cancelled, self.apply, behaviour.pop
        while True:
            due = timers[0][0] if timers else horizon
            upcoming = behaviour.forced if behaviour.forced < behaviour.at else behaviour.at
            if due <= upcoming:
                if due >= horizon:
                    break
                _, _, run, token = heapq.heappop(timers)
                if (run, token) in cancelled:
                    cancelled.discard((run, token))
                    continue
                apply(TimerFired(run, token), due)
            else:
                if upcoming >= horizon:
                    break
                name, at, properties = pop()
                count += 1
                if name == conversion:
                    tally.goal_events[group] += 1
                message_id = f"{self.id}-{count}"
                if recording:
                    self.record(name, at, properties, message_id)
                apply(
                    EventInput(
                        message_id,
                        name,
                        at,
                        {"type": "track", "event": name, "userId": self.id, "properties": properties},
                    ),
                    at,
                )
        tally.sends_per_customer[self.sends] += 1

    def record(self, name: str, at: float, properties: dict[str, Any], message_id: str) -> None:
        history = self.sim.history
        assert history is not None
        history.events.append(Seen(self.id, name, at, properties))
        history.messages.append(
            {
                "type": "track",
                "event": name,
                "userId": self.id,
                "messageId": message_id,
                "timestamp": at,
                "properties": properties,
            }
        )

    def identify(self) -> EventInput:
        samples = self.behaviour.segment.model.traits
        traits: dict[str, Any] = (
            dict(samples[int(self.behaviour.rng.random() * len(samples))]) if samples else {}
        )
        for name, pattern in ADDRESS_TRAITS.items():
            if traits.get(name):
                traits[name] = pattern.format(id=self.id, n=self.number)
        message_id = f"{self.id}-identify"
        if self.sim.history is not None:
            self.sim.history.traits[self.id] = traits
            self.sim.history.messages.append(
                {
                    "type": "identify",
                    "userId": self.id,
                    "messageId": message_id,
                    "timestamp": self.sim.settings.start,
                    "traits": traits,
                }
            )
        return EventInput(
            message_id,
            "identified",
            self.sim.settings.start,
            {"type": "identify", "userId": self.id, "messageId": message_id, "traits": traits},
        )

    def apply(self, first: Input, now: float) -> None:
        tally, sim, step, run_nodes = self.tally, self.sim, self.engine.step, self.run_nodes
        queue: list[Input] | None = None  # only emitted events queue up; most inputs emit none
        inp: Input | None = first
        while inp is not None:
            tally.inputs += 1
            if sim.recorded is not None:
                sim.recorded.append((self.id, inp, now))
            try:
                result = step(self.customer, inp, now)
            except EngineError:
                tally.refused += 1
                result = None
            if result is not None and result.commands:
                self.customer = result.customer
                for command in result.commands:
                    kind = type(command)
                    if kind is Transition:
                        moved: Transition = command  # type: ignore[assignment]
                        if moved.cause == "entered":
                            tally.entered[moved.journey] += 1
                        if moved.to_node is not None:
                            tally.nodes[(moved.journey, moved.to_node)] += 1
                            nodes = run_nodes.get(moved.run)
                            if nodes is None:
                                nodes = run_nodes[moved.run] = set()
                            nodes.add(moved.to_node)
                    elif kind is ScheduleTimer:
                        heapq.heappush(self.timers, (command.at, command.token, command.run, command.token))  # type: ignore[union-attr]
                    elif kind is CancelTimer:
                        self.cancelled.add((command.run, command.token))  # type: ignore[union-attr]
                    elif kind is Send:
                        self.send(command, now)  # type: ignore[arg-type]
                    elif kind is Suppression:
                        self.suppression(command, now)  # type: ignore[arg-type]
                    elif kind is Conversion:
                        self.conversion(command)  # type: ignore[arg-type]
                    elif kind is EmitEvent:
                        emitted: EmitEvent = command  # type: ignore[assignment]
                        queue = queue or []
                        queue.append(
                            EventInput(
                                emitted.id,
                                emitted.event,
                                now,
                                {
                                    "type": "track",
                                    "event": emitted.event,
                                    "messageId": emitted.id,
                                    "properties": dict(emitted.properties),
                                },
                            )
                        )
            elif result is not None:
                self.customer = result.customer
            inp = queue.pop(0) if queue else None

    def conversion(self, record: Conversion) -> None:
        if record.run in self.converted_runs:
            return
        self.converted_runs.add(record.run)
        tally = self.tally
        tally.converted[record.journey] += 1
        tally.value[record.journey] = tally.value.get(record.journey, 0.0) + (record.value or 0.0)
        for node in self.run_nodes.get(record.run, ()):
            tally.node_converted[(record.journey, node)] += 1

    def send(self, send: Send, now: float) -> None:
        tally = self.tally
        self.sends += 1
        tally.sends[(send.journey, send.channel)] += 1
        answer = self.behaviour.respond(self.drawn, send.channel, send.template, now)
        if answer is None:
            tally.unknown_responses[f"{send.channel}/{send.template}"] += 1
            return
        tally.opened[send.channel] += answer[0]
        tally.clicked[send.channel] += answer[1]
        if self.sim.history is not None:
            self.sim.history.deliveries.append(
                Delivered(self.id, send.journey, send.channel, send.template, now, answer[0], answer[1])
            )

    def suppression(self, record: Suppression, now: float) -> None:
        tally = self.tally
        key = (record.journey, record.reason)
        if record.deferred_until is not None:
            tally.deferred[key] += 1
        else:
            tally.suppressed[key] += 1
        if record.reason in ("frequency_cap", "arbitration_lost"):
            horizon = self.sim.settings.policy.longest_cap
            for rival in {
                s[2] for s in self.customer.sends if s[2] != record.journey and now - s[0] < horizon
            }:
                tally.collisions[(record.journey, rival)] += 1
