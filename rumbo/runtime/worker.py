"""The worker: reads the event log in order per customer, runs the engine, commits what it produced.

Theory of operation
-------------------
* One `tick(now)` claims the timers due at `now` and takes the customers with unprocessed events (longest
  waiting first) with their next events in log order; each customer's step fires its timers first, then
  takes its events, so that a wait that ended before an event arrived is seen to have ended.
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
* Segments (segments.py): after every input that changed something a segment rule reads, the rules are
  asked again and each membership change is fed to the engine as a SegmentChange, one at a time, before the
  next input; the memberships commit in the step's transaction. A `rumbo:segments` message (walks.py) asks
  for the same judgement without an input, for time-based rules.
* The lifecycle (lifecycle.py): before a customer's first input in a step, runs on versions a publish or a
  stop moved are migrated or ended; runs of paused journeys are hidden from the engine, and their timers
  that fall due are held until the journey resumes.
* After the events, the walks (walks.py) advance by a bounded batch of customers: segment refreshes,
  scheduled entries, rollouts of publishes and stops. They write messages to the log, nothing else.
* The worker keeps the customers it last committed (`StateCache`), each with the bytes it was stored as. A
  loaded state whose bytes are those bytes is not decoded again: decoding is deterministic and the engine
  never changes the Customer it is given, so the kept one is the one decoding would give. Any other writer
  (another worker, a merge, an erasure) changes the bytes, and the state is decoded as usual.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from rumbo.delivery.message import Profile, encode_order
from rumbo.engine.commands import CancelTimer, EmitEvent, ScheduleTimer, Send
from rumbo.engine.inputs import EventInput, Input, SegmentChange, TimerFired
from rumbo.engine.state import Customer, Run
from rumbo.engine.step import Engine
from rumbo.errors import EngineError
from rumbo.identity import merge_customers
from rumbo.records import Conversion, Decision, Record, Suppression, Transition
from rumbo.replay.virtual import input_of
from rumbo.runtime.codec import decode, encode
from rumbo.runtime.intake import MERGE, iso
from rumbo.runtime.lifecycle import Move, hold_timers, release_timers
from rumbo.runtime.segments import SegmentRule
from rumbo.runtime.setup import Setup
from rumbo.runtime.walks import LIFECYCLE, SEGMENTS, Walks
from rumbo.store.base import ConsentEntry, DueTimer, NewEvent, OutboxEntry, Step, StoredEvent, StoredState
from rumbo.store.errors import StoreConflict
from rumbo.store.sql import SqlStore

log = logging.getLogger("rumbo.worker")

_RECORDS = (Transition, Decision, Suppression, Conversion)
Held = tuple[str, str, int, str]  # a due timer of a paused journey: customer, run, token, journey
# Customers a worker keeps decoded between ticks (StateCache): a few kilobytes each.
STATE_CACHE = 20_000
# Segment changes one customer's step may feed: rules that contradict one another (a journey on entering
# `a` sets a trait that takes the customer out of `a`) would otherwise flip memberships for ever.
MAX_SEGMENT_CHANGES = 64


@dataclass(slots=True)
class TickReport:
    """What one tick did (for progress output, metrics and tests)."""

    events: int = 0
    timers: int = 0
    customers: int = 0
    steps: int = 0
    conflicts: int = 0
    sends: int = 0
    segment_changes: int = 0
    walked: int = 0  # customers the walks looked at
    refused: Counter[str] = field(default_factory=Counter)

    @property
    def idle(self) -> bool:
        return not (self.events or self.timers or self.conflicts or self.walked)


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
        self.segments_before = customer.segments
        self.segment_changes = 0

    def apply(
        self, inp: Input, event: Any, source: str, at: float, keep: Callable[[Run], bool] | None = None
    ) -> bool:
        """Apply an input and what follows from it (emitted events, segment changes); False if the engine
        refused it. `keep` limits the runs the engine sees to those it accepts."""
        worker, queue = self.worker, [(inp, event)]
        while queue:
            current, current_event = queue.pop(0)
            before = self.customer
            if self._step(current, current_event, source, at, queue, keep) is None:
                if current is inp:
                    return False  # nothing followed from it
                continue
            keep = None
            segments = worker.setup.segments
            if segments.rules:
                name = current.name if isinstance(current, EventInput) else None
                if affected := segments.affected(before, self.customer, name):
                    self.judge_segments(source, at, queue, affected)
        return True

    def judge(self, source: str, at: float) -> None:
        """Judge the segments again without an input (after a merge, or when a walk asks for it), and
        apply what the changes lead to."""
        queue: list[tuple[Input, Any]] = []
        self.judge_segments(source, at, queue)
        for inp, event in queue:  # events the journeys that the changes started emitted
            self.apply(inp, event, source, at)

    def judge_segments(
        self,
        source: str,
        at: float,
        queue: list[tuple[Input, Any]],
        first: tuple[SegmentRule, ...] | None = None,
    ) -> None:
        """Feed the engine every membership the segment rules now contradict, one change at a time; the
        first time round, only the rules in `first` (when given) are asked."""
        worker = self.worker
        rules, timezone = worker.setup.segments, worker.engine.policy.default_timezone
        while (change := rules.first_change(self.customer, self.now, timezone, first)) is not None:
            first = None  # a change may change any rule's answer
            if self.segment_changes >= MAX_SEGMENT_CHANGES:
                log.warning(
                    "customer %s: segments still changing after %d changes for input %s; left as they are",
                    self.customer.id,
                    self.segment_changes,
                    source,
                )
                return
            self.segment_changes += 1
            worker.report.segment_changes += 1
            name, entered = change
            inp = SegmentChange(name, entered, f"{source}:segment:{self.segment_changes}:{name}")
            if self._step(inp, None, source, at, queue, None) is None:
                return  # refused (a journey it starts ran away, say): tried again on the next input

    def catch_up(self) -> None:
        """Move or end the runs on versions that a publish or a stop left behind (lifecycle.py)."""
        moves = self.worker.setup.lifecycle.moves
        if not moves or not self.customer.runs:
            return
        for _ in range(len(moves) + 1):
            due = [moves[r.pair] for r in self.customer.runs.values() if r.pair in moves]
            if not due:
                return
            move = min(due, key=lambda m: (m.journey, m.to_version))
            migrate = move.migrate()
            if not self.apply(migrate, None, migrate.id, self.now, _runs_moved_by(move, moves)):
                return

    def _step(
        self,
        inp: Input,
        event: Any,
        source: str,
        at: float,
        queue: list[tuple[Input, Any]],
        keep: Callable[[Run], bool] | None,
    ) -> bool | None:
        """One engine step; None if the engine refused the input. Runs of paused journeys (and those `keep`
        rejects) are hidden from the engine and put back after it."""
        worker, before = self.worker, self.customer
        view, hidden = _hide_runs(before, worker.setup.lifecycle.paused, keep)
        try:
            result = worker.engine.step(view, inp, self.now)
        except EngineError as exc:
            worker.report.refused[type(exc).__name__] += 1
            log.warning("customer %s: input %s refused: %s", before.id, inp.id, exc)
            return None
        after = result.customer
        if after is not view:
            if hidden:
                after.runs = {**after.runs, **hidden}  # `after` is the engine's new copy: ours to change
            self.changed = True
            self.customer = after
            if after.consent is not before.consent:
                self.consent_changes(before.consent, after.consent, source, at)
        for command in result.commands:
            if isinstance(command, _RECORDS):
                self.records.append(command)
            elif isinstance(command, Send):
                self.outbox.append(outbox_entry(worker.workspace, command, self.customer, event))
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
                        command.id, self.customer.id, command.at, self.now, orjson.dumps(message, default=str)
                    )
                )
                queue.append((EventInput(command.id, command.event, self.now, message), message))
        return after is not view

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
        # The merged customer's runs and memberships are the survivor's now: they are judged again.
        self.catch_up()
        self.judge(str(message["messageId"]), at)

    def step(self) -> Step:
        before, after = self.segments_before, self.customer.segments
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
            segments_entered=sorted(after - before) if after is not before else (),
            segments_left=sorted(before - after) if after is not before else (),
        )


class StateCache:
    """The customers this worker last committed, by id, with the stored bytes each was encoded to; the
    least recently used goes when it is full."""

    def __init__(self, size: int = STATE_CACHE) -> None:
        self.size = size
        self._entries: dict[str, tuple[bytes, Customer]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, customer_id: str, state: bytes) -> Customer | None:
        """The kept customer if `state` (just loaded) is the state it was stored as, else None."""
        entry = self._entries.pop(customer_id, None)
        if entry is None or entry[0] != state:
            return None
        self._entries[customer_id] = entry  # most recently used last
        return entry[1]

    def put(self, customer_id: str, state: bytes, customer: Customer) -> None:
        entries = self._entries
        entries.pop(customer_id, None)
        entries[customer_id] = (state, customer)
        if len(entries) > self.size:
            del entries[next(iter(entries))]

    def drop(self, customer_id: str) -> None:
        self._entries.pop(customer_id, None)


def _hide_runs(
    customer: Customer, paused: frozenset[str], keep: Callable[[Run], bool] | None
) -> tuple[Customer, dict[str, Run]]:
    """The customer as the engine may see it: without the runs of paused journeys, nor those `keep`
    rejects; and the runs left out. The customer itself when nothing is left out (the common case)."""
    if not (paused or keep) or not customer.runs:
        return customer, {}
    hidden = {
        rid: run
        for rid, run in customer.runs.items()
        if run.of[0] in paused or (keep is not None and not keep(run))
    }
    if not hidden:
        return customer, hidden
    view = customer.copy()
    view.runs = {rid: run for rid, run in customer.runs.items() if rid not in hidden}
    return view, hidden


def _runs_moved_by(move: Move, moves: Mapping[tuple[str, int], Move]) -> Callable[[Run], bool]:
    """The runs a `Migrate` for `move` may see: every other journey's, and of its journey only those that
    `move` is for (the engine's Migrate takes every run of the journey not on the target version)."""

    def keep(run: Run) -> bool:
        return run.of[0] != move.journey or moves.get(run.pair) == move

    return keep


class Worker:
    """Drives one workspace's customers through its engine against a store (one per thread)."""

    def __init__(
        self,
        store: SqlStore,
        workspace: str,
        engine: Engine | Setup | Callable[[], Engine | Setup],
        *,
        batch_customers: int = 500,
        events_per_customer: int = 100,
        timer_lease: float = 60.0,
        walk_batch: int = 500,
        state_cache: int = STATE_CACHE,
    ) -> None:
        self.store, self.workspace = store, workspace
        self._source = engine
        self.setup = self._setup_of(engine if isinstance(engine, Engine | Setup) else engine())
        self._applied: Setup | None = None  # the setup whose lifecycle the held timers were last matched to
        self.batch_customers = batch_customers
        self.events_per_customer = events_per_customer
        self.timer_lease = timer_lease
        self.walks = Walks(store, workspace, batch=walk_batch)
        self.states = StateCache(state_cache)
        self.report = TickReport()

    @property
    def engine(self) -> Engine:
        return self.setup.engine

    def _setup_of(self, source: Engine | Setup) -> Setup:
        if isinstance(source, Setup):
            return source
        known: Setup | None = getattr(self, "setup", None)
        return known if known is not None and known.engine is source else Setup.of(source)

    def tick(self, now: float) -> TickReport:
        """Fire due timers, process pending events, advance the walks; commit; say what was done."""
        self.report = TickReport()
        # A callable source is asked once a tick, so a publish shows from the next tick on.
        if not isinstance(self._source, Engine | Setup):
            self.setup = self._setup_of(self._source())
        if self.setup is not self._applied:
            # Timers held for journeys that are no longer paused fire now (lifecycle.py).
            release_timers(self.store, self.workspace, self.setup.lifecycle.paused)
            self._applied = self.setup
        self._step_customers(now)
        self.report.walked = self.walks.tick(self.setup, now)
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

    # ---- timers and events -------------------------------------------------------------------------
    def _step_customers(self, now: float) -> None:
        """Fire the due timers and take the pending events: one step per customer, timers first, and one
        commit for all of them."""
        due = self.store.claim_due_timers(
            self.workspace, now, limit=self.batch_customers * 4, lease=self.timer_lease
        )
        events = self.store.pending_events(
            self.workspace, customers=self.batch_customers, limit=self.events_per_customer
        )
        if not due and not events:
            return
        timers_of: dict[str, list[DueTimer]] = defaultdict(list)
        for timer in due:
            timers_of[timer.customer].append(timer)
        events_of: dict[str, list[StoredEvent]] = defaultdict(list)
        for event in events:
            events_of[event.customer].append(event)
        customers = list(dict.fromkeys([*timers_of, *events_of]))
        states = self.store.load_states(self.workspace, customers)
        stepped = frozenset(customers)
        works: list[_CustomerStep] = []
        held: list[Held] = []
        for customer_id in customers:
            work = self._start(customer_id, states.get(customer_id), now)
            if customer_id in timers_of:
                self._fire(work, timers_of[customer_id], held, now)
            if customer_id in events_of:
                self._take_events(work, events_of[customer_id], stepped)
            if work.changed or work.cancelled or work.processed:
                works.append(work)
        self._commit(works)
        hold_timers(self.store, self.workspace, held)

    def _fire(self, work: _CustomerStep, timers: Iterable[DueTimer], held: list[Held], now: float) -> None:
        paused, customer_id = self.setup.lifecycle.paused, work.customer.id
        for timer in timers:
            run = work.customer.runs.get(timer.run)
            if run is not None and run.journey in paused and run.timer == timer.token:
                held.append((customer_id, timer.run, timer.token, run.journey))
                continue
            # The fired timer is removed in the same transaction.
            work.cancelled[(timer.run, timer.token)] = CancelTimer(customer_id, timer.run, timer.token)
            self.report.timers += 1
            if run is None or run.timer != timer.token:
                continue  # the run ended or moved on (a migration, a stop) and cancelled it
            work.apply(TimerFired(timer.run, timer.token), None, f"timer:{timer.run}:{timer.token}", now)

    def _take_events(
        self, work: _CustomerStep, events: Iterable[StoredEvent], stepped: frozenset[str]
    ) -> None:
        for event in events:
            message = orjson.loads(event.body)
            kind = message.get("type")
            if kind == MERGE:
                # One merge per step, applied to the state before the events after it; and not while the
                # merged customer has a step of its own in this tick, which the merge would overtake.
                if work.absorbs is not None or work.processed or str(message.get("merged")) in stepped:
                    break
                work.merge(message, event.at)
                work.processed.append(event.seq)
                self.report.events += 1
                continue
            work.processed.append(event.seq)
            self.report.events += 1
            if kind == SEGMENTS:  # a walk found this customer's memberships out of date
                work.judge(event.message_id, event.at)
                continue
            if kind == LIFECYCLE:  # a walk found runs to move: `_start` moved them
                continue
            try:
                inp = input_of(message, event.at)
            except (ValueError, KeyError) as exc:
                self.report.refused["unreadable"] += 1
                log.warning(
                    "customer %s: event %s cannot be an input: %s", work.customer.id, event.message_id, exc
                )
                continue
            work.apply(inp, message, event.message_id, event.at)

    def _start(self, customer_id: str, stored: StoredState | None, now: float) -> _CustomerStep:
        self.report.customers += 1
        if stored is None:
            return _CustomerStep(self, Customer(customer_id), 0, now)
        customer = self.states.get(customer_id, stored.state) or decode(customer_id, stored.state)
        work = _CustomerStep(self, customer, stored.version, now)
        work.catch_up()
        return work

    def _commit(self, works: list[_CustomerStep]) -> None:
        steps = [work.step() for work in works]
        for work, step, result in zip(works, steps, self.store.commit_steps(steps), strict=True):
            if isinstance(result, StoreConflict):
                self.report.conflicts += 1
                self.states.drop(step.customer)
                log.info("step not committed, will be taken again: %s", result)
            else:
                self.report.steps += 1
                self.states.put(step.customer, step.state, work.customer)
                if step.absorbs is not None:
                    self.states.drop(step.absorbs)
