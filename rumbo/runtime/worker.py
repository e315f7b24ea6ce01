"""The worker: reads the event log in order per customer, runs the engine, commits what it produced.

Theory of operation
-------------------
* One `tick(now)` first fires the timers due at `now`, then takes the customers with unprocessed events
  (longest waiting first) and, for each, its next events in log order. Timers go first so that a wait that
  ended before an event arrived is seen to have ended.
* Everything one tick does for one customer — every event and timer it consumed, the new state, timers,
  outbox entries, records, emitted events, consent history — becomes one `Step`, and the tick's steps
  commit in one transaction (each step all or nothing). An input is therefore processed exactly once: its
  event is marked processed in the same transaction that writes its effects, and a crash before the commit
  leaves it unprocessed, to be taken again after restart with the state it was computed from.
* Steps are optimistic: another worker that committed the customer first makes the step conflict; it is
  dropped and the customer's events are taken again on the next tick.
* Events a journey emits are applied at once (as the virtual runtime does) and written to the log as
  already processed, so analytics and the profile timeline see them.
* A `merge` message (intake.py) folds another customer's state into this one before the events after it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from rumbo.delivery.message import Profile, encode_order
from rumbo.engine.commands import CancelTimer, EmitEvent, ScheduleTimer, Send
from rumbo.engine.inputs import EventInput, Input, TimerFired
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.errors import EngineError
from rumbo.identity import merge_customers
from rumbo.records import Conversion, Decision, Record, Suppression, Transition
from rumbo.replay.virtual import input_of
from rumbo.runtime.codec import decode, encode
from rumbo.runtime.intake import MERGE, iso
from rumbo.store.base import ConsentEntry, DueTimer, NewEvent, OutboxEntry, Step, StoredEvent
from rumbo.store.errors import StoreConflict
from rumbo.store.sql import SqlStore

log = logging.getLogger("rumbo.worker")

_RECORDS = (Transition, Decision, Suppression, Conversion)


@dataclass(slots=True)
class TickReport:
    """What one tick did (for progress output, metrics and tests)."""

    events: int = 0
    timers: int = 0
    customers: int = 0
    steps: int = 0
    conflicts: int = 0
    sends: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    @property
    def idle(self) -> bool:
        return not (self.events or self.timers or self.conflicts)


def outbox_entry(workspace: str, send: Send, customer: Customer, event: Any) -> OutboxEntry:
    """A send as the delivery side reads it: the command, and the profile and event it is rendered with."""
    profile = Profile(customer.traits, customer.consent, tuple(sorted(customer.tags)))
    return OutboxEntry(send.key, "send", encode_order(workspace, send, profile, event))


class _CustomerStep:
    """The inputs of one customer in one tick, applied one after another to its state."""

    def __init__(self, worker: Worker, customer: Customer, version: int, now: float) -> None:
        self.worker, self.customer, self.version, self.now = worker, customer, version, now
        self.processed: list[int] = []
        self.timers: dict[tuple[str, int], ScheduleTimer] = {}
        self.cancelled: dict[tuple[str, int], CancelTimer] = {}
        self.outbox: list[OutboxEntry] = []
        self.records: list[Record] = []
        self.emitted: list[NewEvent] = []
        self.consent: list[ConsentEntry] = []
        self.absorbs: str | None = None
        self.changed = False

    def apply(self, inp: Input, event: Any, source: str, at: float) -> None:
        worker, queue = self.worker, [(inp, event)]
        while queue:
            current, current_event = queue.pop(0)
            before = self.customer
            try:
                result = worker.engine.step(before, current, self.now)
            except EngineError as exc:
                worker.report.refused[type(exc).__name__] += 1
                log.warning("customer %s: input %s refused: %s", before.id, current.id, exc)
                continue
            after = result.customer
            if after is not before:
                self.changed = True
                self.customer = after
                if after.consent is not before.consent:
                    self.consent_changes(before.consent, after.consent, source, at)
            for command in result.commands:
                if isinstance(command, _RECORDS):
                    self.records.append(command)
                elif isinstance(command, Send):
                    self.outbox.append(outbox_entry(worker.workspace, command, after, current_event))
                    worker.report.sends += 1
                elif isinstance(command, ScheduleTimer):
                    self.timers[(command.run, command.token)] = command
                elif isinstance(command, CancelTimer):
                    # A timer made and cancelled in this same step never reaches the store.
                    if self.timers.pop((command.run, command.token), None) is None:
                        self.cancelled[(command.run, command.token)] = command
                elif isinstance(command, EmitEvent):
                    message = {
                        "type": "track",
                        "event": command.event,
                        "properties": dict(command.properties),
                        "messageId": command.id,
                        "timestamp": iso(command.at),
                        "context": {"channel": "other", "library": {"name": "rumbo"}},
                    }
                    self.emitted.append(
                        NewEvent(
                            command.id, after.id, command.at, self.now, orjson.dumps(message, default=str)
                        )
                    )
                    queue.append((EventInput(command.id, command.event, self.now, message), message))

    def consent_changes(self, old: dict[str, bool], new: dict[str, bool], source: str, at: float) -> None:
        for scope, granted in new.items():
            if old.get(scope) != granted:
                self.consent.append(ConsentEntry(scope, granted, source, at))

    def merge(self, message: dict[str, Any], at: float) -> None:
        merged_id = str(message["merged"])
        stored = self.worker.store.load_state(self.worker.workspace, merged_id)
        merged = decode(merged_id, stored.state) if stored else Customer(merged_id)
        result = merge_customers(
            self.customer,
            merged,
            self.worker.engine.versions,
            at=self.now,
            input=str(message["messageId"]),
            workspace=self.worker.workspace,
        )
        self.customer, self.changed, self.absorbs = result.customer, True, merged_id
        for command in result.commands:
            if isinstance(command, CancelTimer):
                self.cancelled[(command.run, command.token)] = command
            elif isinstance(command, _RECORDS):
                self.records.append(command)

    def step(self) -> Step:
        return Step(
            self.worker.workspace,
            self.customer.id,
            self.version,
            encode(self.customer),
            self.now,
            processed=self.processed,
            timers=list(self.timers.values()),
            cancelled_timers=list(self.cancelled.values()),
            outbox=self.outbox,
            records=self.records,
            events=self.emitted,
            absorbs=self.absorbs,
            consent=self.consent,
        )


class Worker:
    """Drives one workspace's customers through its engine against a store (one per thread)."""

    def __init__(
        self,
        store: SqlStore,
        workspace: str,
        engine: Engine | Callable[[], Engine],
        *,
        batch_customers: int = 500,
        events_per_customer: int = 100,
        timer_lease: float = 60.0,
    ) -> None:
        self.store, self.workspace = store, workspace
        self._source = engine
        self.engine = engine if isinstance(engine, Engine) else engine()
        self.batch_customers = batch_customers
        self.events_per_customer = events_per_customer
        self.timer_lease = timer_lease
        self.report = TickReport()

    def tick(self, now: float) -> TickReport:
        """Fire due timers, then process pending events; commit; say what was done."""
        self.report = TickReport()
        # A callable source is asked once a tick, so a publish shows from the next tick on.
        if not isinstance(self._source, Engine):
            self.engine = self._source()
        self._fire_timers(now)
        self._process_events(now)
        return self.report

    def run_until_idle(self, now: Callable[[], float], max_ticks: int = 1_000_000) -> int:
        """Tick until a tick finds nothing to do; return how many events were processed."""
        total = 0
        for _ in range(max_ticks):
            report = self.tick(now())
            total += report.events
            if report.idle:
                break
        return total

    # ---- timers ------------------------------------------------------------------------------------
    def _fire_timers(self, now: float) -> None:
        due = self.store.claim_due_timers(
            self.workspace, now, limit=self.batch_customers * 4, lease=self.timer_lease
        )
        if not due:
            return
        by_customer: dict[str, list[DueTimer]] = defaultdict(list)
        for timer in due:
            by_customer[timer.customer].append(timer)
        states = self.store.load_states(self.workspace, by_customer)
        steps = []
        for customer_id, timers in by_customer.items():
            work = self._start(customer_id, states.get(customer_id), now)
            for timer in timers:
                # The fired timer is removed in the same transaction; the engine ignores a stale token.
                work.cancelled[(timer.run, timer.token)] = CancelTimer(customer_id, timer.run, timer.token)
                work.apply(TimerFired(timer.run, timer.token), None, f"timer:{timer.run}:{timer.token}", now)
                self.report.timers += 1
            steps.append(work.step())
        self._commit(steps)

    # ---- events ------------------------------------------------------------------------------------
    def _process_events(self, now: float) -> None:
        customers = self.store.pending_customers(self.workspace, limit=self.batch_customers)
        if not customers:
            return
        events = self.store.next_events(self.workspace, customers, limit=self.events_per_customer)
        by_customer: dict[str, list[StoredEvent]] = defaultdict(list)
        for event in events:
            by_customer[event.customer].append(event)
        states = self.store.load_states(self.workspace, by_customer)
        steps = [self._customer_events(c, evs, states.get(c), now) for c, evs in by_customer.items()]
        self._commit(steps)

    def _customer_events(
        self, customer_id: str, events: Iterable[StoredEvent], stored: Any, now: float
    ) -> Step:
        work = self._start(customer_id, stored, now)
        for event in events:
            message = orjson.loads(event.body)
            if message.get("type") == MERGE:
                if work.absorbs is not None or work.processed:
                    break  # one merge per step, and it applies to the state before the events after it
                work.merge(message, event.at)
                work.processed.append(event.seq)
                self.report.events += 1
                continue
            work.processed.append(event.seq)
            self.report.events += 1
            try:
                inp = input_of(message, event.at)
            except (ValueError, KeyError) as exc:
                self.report.refused["unreadable"] += 1
                log.warning(
                    "customer %s: event %s cannot be an input: %s", customer_id, event.message_id, exc
                )
                continue
            work.apply(inp, message, event.message_id, event.at)
        return work.step()

    def _start(self, customer_id: str, stored: Any, now: float) -> _CustomerStep:
        self.report.customers += 1
        if stored is None:
            return _CustomerStep(self, Customer(customer_id), 0, now)
        return _CustomerStep(self, decode(customer_id, stored.state), stored.version, now)

    def _commit(self, steps: list[Step]) -> None:
        for result in self.store.commit_steps(steps):
            if isinstance(result, StoreConflict):
                self.report.conflicts += 1
                log.info("step not committed, will be taken again: %s", result)
            else:
                self.report.steps += 1
