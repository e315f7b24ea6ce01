"""An in-memory runtime on virtual time: customers in a dict, timers in a heap, no clock and no I/O.

It drives the same Engine the service runs. Before each input at time t, every timer due at or before t
fires in time order; emitted events are fed back as inputs at once; an input the engine refuses is recorded
with its reason and the customer keeps the state it had (the engine never half-applies an input).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rumbo.engine.commands import CancelTimer, Command, EmitEvent, ScheduleTimer
from rumbo.engine.inputs import ApiStart, EventInput, Input, ScheduleTick, SegmentChange, TimerFired
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine, OfferStats
from rumbo.errors import EngineError


@dataclass(slots=True)
class Refusal:
    customer: str
    input: Input
    at: float
    reason: str


@dataclass(slots=True)
class VirtualRuntime:
    engine: Engine
    stats: OfferStats = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    now: float = 0.0
    inputs: int = 0
    _timers: list[tuple[float, int, str, str, int]] = field(default_factory=list)
    _cancelled: set[tuple[str, str, int]] = field(default_factory=set)
    _seq: int = 0

    def customer(self, customer_id: str) -> Customer:
        found = self.customers.get(customer_id)
        if found is None:
            found = self.customers[customer_id] = Customer(customer_id)
        return found

    def advance_to(self, at: float) -> None:
        """Fire every timer due at or before `at`, in order, then set the clock to `at`."""
        timers = self._timers
        while timers and timers[0][0] <= at:
            due, _, customer_id, run, token = heapq.heappop(timers)
            if (customer_id, run, token) in self._cancelled:
                self._cancelled.discard((customer_id, run, token))
                continue
            self.now = max(self.now, due)
            self.apply(customer_id, TimerFired(run, token), self.now)
        self.now = max(self.now, at)

    def send(self, customer_id: str, inp: Input, at: float) -> None:
        """Deliver one input at time `at` (timers due before it fire first)."""
        self.advance_to(at)
        self.apply(customer_id, inp, self.now)

    def apply(self, customer_id: str, inp: Input, now: float) -> None:
        queue: list[Input] = [inp]
        while queue:
            current = queue.pop(0)
            self.inputs += 1
            customer = self.customer(customer_id)
            try:
                result = self.engine.step(customer, current, now, self.stats)
            except EngineError as exc:
                self.refusals.append(Refusal(customer_id, current, now, str(exc)))
                continue
            self.customers[customer_id] = result.customer
            for command in result.commands:
                if isinstance(command, ScheduleTimer):
                    self._seq += 1
                    heapq.heappush(
                        self._timers, (command.at, self._seq, customer_id, command.run, command.token)
                    )
                elif isinstance(command, CancelTimer):
                    self._cancelled.add((customer_id, command.run, command.token))
                elif isinstance(command, EmitEvent):
                    queue.append(
                        EventInput(
                            command.id,
                            command.event,
                            now,
                            {
                                "type": "track",
                                "event": command.event,
                                "properties": dict(command.properties),
                                "messageId": command.id,
                            },
                        )
                    )
                self.commands.append(command)

    def replay(self, messages: Iterable[Mapping[str, Any]], until: float | None = None) -> None:
        """Feed Segment-shaped messages (sorted by time here), then let timers run until `until`."""
        decoded = sorted((event_time(m), i, m) for i, m in enumerate(messages))
        for at, _, message in decoded:
            self.send(customer_of(message), input_of(message, at), at)
        if until is not None:
            self.advance_to(until)

    @property
    def pending_timers(self) -> int:
        return len(self._timers) - len(self._cancelled)


def input_of(message: Mapping[str, Any], at: float) -> Input:
    """The engine input for one line of an event file.

    Segment messages become events. Three rumbo lines stand for what the runtime produces itself, so that
    segment-, schedule- and API-driven journeys can be replayed too:
    `{"type": "rumbo:segment", "segment": "vip", "entered": true}`, `{"type": "rumbo:schedule", "journey": J}`
    and `{"type": "rumbo:start", "journey": J, "properties": {...}}` (each with userId, messageId, timestamp).
    """
    kind = message.get("type")
    message_id = str(message.get("messageId", ""))
    if kind == "rumbo:segment":
        return SegmentChange(str(message["segment"]), bool(message.get("entered", True)), message_id)
    if kind == "rumbo:schedule":
        return ScheduleTick(str(message["journey"]), message_id)
    if kind == "rumbo:start":
        return ApiStart(str(message["journey"]), message_id, dict(message.get("properties") or {}))
    return EventInput.from_segment(message, at)


def customer_of(message: Mapping[str, Any]) -> str:
    """The customer a message belongs to: userId, else anonymousId (identity resolution is the runtime's)."""
    who = message.get("userId") or message.get("anonymousId")
    if not who:
        raise ValueError(f"message {message.get('messageId')!r} has neither userId nor anonymousId")
    return str(who)


def event_time(message: Mapping[str, Any]) -> float:
    """A message's `timestamp` (ISO-8601 or epoch seconds) as epoch seconds."""
    value = message.get("timestamp")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    raise ValueError(f"message {message.get('messageId')!r} has no timestamp")
