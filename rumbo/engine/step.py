"""The journey engine: `Engine.step(customer, input, now) -> StepResult(customer', commands)`.

Theory of operation
-------------------
* A step is a pure function. It reads no clock (time is `now`), does no I/O, and draws randomness only from
  hashes of stable ids (journey, node, customer, input). The same customer, input and now always give the
  same new customer and the same commands, which is what makes replay, backtests and simulation exact.
* The caller's Customer is never modified. The step works on a copy whose containers are copied when first
  written; if the step fails (an illegal input, a runaway journey) the caller still holds the old state.
* One input drives every journey of the customer, in this order: the profile and kept aggregates take the
  event; then for each existing run, journey-level rules (exit_on, goal, `on` jumps) before node logic
  (wait_for); then finished runs still inside their goal window may convert; then entries start new runs.
* Instantaneous nodes (branch, split, decide, update, emit, exit) run at once; a run stops at a wait, a
  wait_for, a send awaiting the gate, or an exit. More than `policy.max_steps` steps for one input raise
  RunawayJourney naming the journey and node.
* Sends of one input are decided together by the send gate (gate.py), highest priority × expected value
  first, so arbitration between journeys is deterministic. A send that is approved, dropped or deferred is
  recorded with its reason; a deferred send keeps its run at the send node until a retry timer fires.
* Every move of a run is a Transition record; splits and decide nodes also write Decision records; the
  gate writes Suppression records; goals write Conversion records. Analytics and the trace read only these.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from rumbo.engine import gate
from rumbo.engine.commands import (
    CancelTimer,
    Command,
    EmitEvent,
    ScheduleTimer,
    Send,
    TimerKind,
    UpdateProfile,
)
from rumbo.engine.inputs import ApiStart, EventInput, Input, Migrate, ScheduleTick, SegmentChange, TimerFired
from rumbo.engine.localtime import next_window_start, on_local_day_at, parse_time
from rumbo.engine.policy import Policy
from rumbo.engine.rand import key, run_key, seed, unit
from rumbo.engine.state import Customer, Run, shared_arm
from rumbo.errors import IllegalInput, RunawayJourney
from rumbo.expr import AggregateNeed, Expression
from rumbo.journey.model import (
    BranchNode,
    DecideNode,
    EmitNode,
    Entry,
    ExitNode,
    Journey,
    Offer,
    SendNode,
    SplitNode,
    UpdateNode,
    WaitForNode,
    WaitNode,
)
from rumbo.records import Conversion, Decision, Suppression, Transition, TransitionCause

# Offer statistics for Thompson sampling: (journey, node, offer) -> (conversions, trials). An input to the
# step (not state), so choosing stays pure while learning happens outside.
OfferStats = Mapping[tuple[str, str, str], tuple[float, float]]
CONSENT_EVENTS = {"subscribed": True, "unsubscribed": False}


class StepResult(NamedTuple):
    customer: Customer
    commands: list[Command]


class _EventPlan(NamedTuple):
    """What one event name can touch, looked up once per event instead of once per concern."""

    absorbs: bool  # the profile or a kept aggregate takes it (counts, last, identify, consent)
    listeners: frozenset[str]  # journeys (any version) whose runs it can move
    goal: bool  # some journey's goal, so finished runs' trackers may convert
    entries: tuple[tuple[Journey, Entry], ...]  # live entry rules it triggers


_NO_STATS: OfferStats = {}


class _VersionsByArm(dict[tuple[str, int, str | None], Journey]):
    """Journey versions keyed by a run's `of` (journey, version, arm): a plain dict lookup on the hot path,
    filled from the (journey, version) map on the first lookup of each arm."""

    def __init__(self, versions: dict[tuple[str, int], Journey]) -> None:
        super().__init__()
        self.versions = versions

    def __missing__(self, arm: tuple[str, int, str | None]) -> Journey:
        journey = self[arm] = self.versions[arm[0], arm[1]]
        return journey


class Engine:
    """The published journeys of one workspace and its policy; `step` applies one input to one customer."""

    def __init__(
        self,
        journeys: Iterable[Journey],
        policy: Policy | None = None,
        *,
        closed: Iterable[str] = (),
        needs: Iterable[AggregateNeed] = (),
    ) -> None:
        self.policy = policy or Policy()
        # Journeys that admit no one new (paused or stopped): their runs still step, no entry starts one.
        self.closed = frozenset(closed)
        # Aggregates kept for others than the journeys (the runtime's segment rules).
        self.needs = frozenset(needs)
        self.versions: dict[tuple[str, int], Journey] = {}
        self.live: dict[str, Journey] = {}
        for journey in journeys:
            self.versions[journey.key] = journey
            if journey.id not in self.live or journey.version > self.live[journey.id].version:
                self.live[journey.id] = journey
        self._index()

    def _index(self) -> None:
        self.entry_index: dict[str, list[tuple[Journey, Entry]]] = {}
        self.segment_index: dict[tuple[str, str], list[tuple[Journey, Entry]]] = {}
        for journey in self.live.values():
            if journey.id in self.closed:
                continue
            for entry in journey.entries:
                if entry.kind == "event" and entry.event:
                    self.entry_index.setdefault(entry.event, []).append((journey, entry))
                elif entry.kind == "segment" and entry.segment:
                    self.segment_index.setdefault((entry.segment, entry.on), []).append((journey, entry))
        listeners: dict[str, set[str]] = {}
        goals: dict[str, set[str]] = {}
        windows: dict[str, float] = {}
        last: set[str] = set()
        for journey in self.versions.values():
            for name in journey.listened_events():
                listeners.setdefault(name, set()).add(journey.id)
            if journey.goal:
                goals.setdefault(journey.goal.event, set()).add(journey.id)
        for need in self.needs.union(*(journey.needs for journey in self.versions.values())):
            if need.kind == "count":
                window = need.window if need.window is not None else self.policy.history_window
                windows[need.event] = max(windows.get(need.event, 0.0), window)
            else:
                last.add(need.event)
        self.listeners = {k: frozenset(v) for k, v in listeners.items()}
        # The `of` tuple new runs of each live journey share (see state.Run), and versions by a run's `of`.
        self.arms = {jid: shared_arm(jid, journey.version, None) for jid, journey in self.live.items()}
        self.by_arm = _VersionsByArm(self.versions)
        self.goal_events = {k: frozenset(v) for k, v in goals.items()}
        self.count_windows = windows
        self.last_events = frozenset(last)
        absorbed = set(windows) | last | set(CONSENT_EVENTS) | {"identified", "consent_changed"}
        self.plans: dict[str, _EventPlan] = {
            name: _EventPlan(
                name in absorbed,
                self.listeners.get(name, frozenset()),
                name in goals,
                tuple(self.entry_index.get(name, ())),
            )
            for name in set(self.entry_index) | set(listeners) | set(goals) | absorbed
        }

    def publish(self, journey: Journey) -> Engine:
        """A new engine with `journey` live for new entries; older versions stay for the runs on them."""
        return Engine([*self.versions.values(), journey], self.policy, closed=self.closed, needs=self.needs)

    def step(self, customer: Customer, inp: Input, now: float, stats: OfferStats | None = None) -> StepResult:
        """Apply one input; see the module docstring for the rules."""
        if isinstance(inp, EventInput) and inp.name not in self.plans:
            return StepResult(customer, [])
        return _Step(self, customer, inp, now, stats or _NO_STATS).run()

    def migration_plan(
        self,
        customers: Iterable[Customer],
        journey: str,
        to_version: int,
        mapping: Mapping[str, str] | None = None,
    ) -> Counter[tuple[int, str, str]]:
        """Dry run of a migration: (old version, from node, to node or 'stopped') -> waiting runs."""
        target = self.versions.get((journey, to_version))
        if target is None:
            raise IllegalInput(f"version {to_version} is not published", journey=journey)
        plan: Counter[tuple[int, str, str]] = Counter()
        for customer in customers:
            for run in customer.runs_of(journey):
                if run.version != to_version:
                    node = (mapping or {}).get(run.node, run.node)
                    plan[(run.version, run.node, node if node in target.nodes else "stopped")] += 1
        return plan


class _Step:
    """One input being applied to one customer.

    The step is also the EvalContext its predicates read (the customer as of now in this step, and the
    triggering event): a second object built for every input costs as much as a simple predicate.

    Copy on write: `c` is the caller's Customer until the step first writes to it (`mine`), and each
    container of that copy stays the caller's until first written (`own`, `own_runs`). `base` keeps the
    caller's object, so an input that changes nothing copies nothing, and a failed step leaves it as it was.
    """

    __slots__ = (
        "base",
        "c",
        "consent",
        "engine",
        "event",
        "inp",
        "input_id",
        "now",
        "out",
        "pending",
        "policy",
        "segments",
        "stats",
        "steps",
        "tags",
        "traits",
        "workspace",
    )

    def __init__(self, engine: Engine, customer: Customer, inp: Input, now: float, stats: OfferStats) -> None:
        self.engine = engine
        self.policy = policy = engine.policy
        self.workspace = policy.workspace
        self.base = self.c = customer
        self.inp = inp
        self.input_id = inp.id
        self.now = now
        self.stats = stats
        self.out: list[Command] = []
        self.pending: list[tuple[Run, Journey, SendNode]] = []
        self.steps = 0
        self.event: Mapping[str, Any] | None = inp.event if isinstance(inp, EventInput) else None
        self.traits: Mapping[str, Any] = customer.traits
        self.consent: Mapping[str, bool] = customer.consent
        self.tags: AbstractSet[str] = customer.tags
        self.segments: AbstractSet[str] = customer.segments

    # ---- what predicates read besides the attributes above ----------------------------------------------
    @property
    def timezone(self) -> str | None:
        return self.c.timezone or self.policy.default_timezone

    def count(self, event: str, since: float | None) -> int:
        times = self.c.counts.get(event, ())
        return len(times) if since is None else len(times) - bisect.bisect_left(times, since)

    def last(self, event: str) -> Mapping[str, Any] | None:
        return self.c.last.get(event)

    # ---- copy on write -----------------------------------------------------------------------------
    def mine(self) -> Customer:
        """The step's own copy of the customer, made at the first write."""
        c = self.c
        if c is self.base:
            c = self.c = c.copy()
        return c

    def own(self, field: str) -> Any:
        c = self.mine()
        value = getattr(c, field)
        if value is getattr(self.base, field):
            value = dict(value)
            setattr(c, field, value)
            if field == "traits":
                self.traits = value
            elif field == "consent":
                self.consent = value
        return value

    def own_runs(self) -> dict[str, Run]:
        c = self.mine()
        runs = c.runs
        if runs is self.base.runs:
            runs = c.runs = dict(runs)
        return runs

    def own_run(self, run: Run) -> Run:
        runs = self.own_runs()
        mine = runs.get(run.id)
        if mine is None or mine is self.base.runs.get(run.id):
            mine = runs[run.id] = run.clone()
        return mine

    # ---- dispatch ----------------------------------------------------------------------------------
    def run(self) -> StepResult:
        inp = self.inp
        if isinstance(inp, EventInput):
            self.on_event(inp)
        elif isinstance(inp, TimerFired):
            self.on_timer(inp)
        elif isinstance(inp, SegmentChange):
            self.on_segment(inp)
        elif isinstance(inp, ApiStart):
            self.on_api_start(inp)
        elif isinstance(inp, ScheduleTick):
            self.on_schedule(inp)
        else:
            self.on_migrate(inp)
        if self.pending:
            self.settle()
        if not self.out and (self.c is self.base or self.c.same_state(self.base)):
            return StepResult(self.base, self.out)  # nothing happened: no new state to keep
        return StepResult(self.c, self.out)

    def journey_of(self, run: Run) -> Journey:
        return self.engine.by_arm[run.of]

    # ---- events ------------------------------------------------------------------------------------
    def on_event(self, inp: EventInput) -> None:
        plan = self.engine.plans[inp.name]
        if plan.absorbs:
            self.absorb(inp)
        listeners = plan.listeners
        if listeners and self.c.runs:
            for run in [r for r in self.c.runs.values() if r.of[0] in listeners]:
                if run.id in self.c.runs:
                    self.run_event(run, inp)
        if plan.goal and self.c.trackers:
            self.track_goals(inp)
        for journey, entry in plan.entries:
            # The rules about runs and re-entry are cheaper than most predicates, so they go first.
            times = self.entries_before(journey)
            if times is not None and (entry.where is None or entry.where(self)):
                self.start(journey, entry.node, times)

    def absorb(self, inp: EventInput) -> None:
        """The profile and kept aggregates take the event before any journey looks at it."""
        name, engine = inp.name, self.engine
        window = engine.count_windows.get(name)
        if window is not None:
            counts = self.own("counts")
            kept = counts.get(name, ())
            cut = bisect.bisect_left(kept, self.now - window)
            counts[name] = (
                (*kept[cut:], inp.at)
                if not kept or inp.at >= kept[-1]
                else tuple(sorted((*kept[cut:], inp.at)))
            )
        if name in engine.last_events:
            self.own("last")[name] = inp.event
        if name == "identified":
            traits = inp.event.get("traits")
            if isinstance(traits, Mapping) and traits:
                # `consent` in identify traits sets channel/topic consent rather than becoming a trait.
                consent = traits.get("consent")
                if isinstance(consent, Mapping):
                    self.own("consent").update({str(k): bool(v) for k, v in consent.items()})
                self.own("traits").update({k: v for k, v in traits.items() if k != "consent"})
        consent_value = CONSENT_EVENTS.get(name)
        if name == "consent_changed" or consent_value is not None:
            props = inp.event.get("properties") or {}
            channel = props.get("channel")
            if isinstance(channel, str):
                scope = f"{channel}.{props['topic']}" if props.get("topic") else channel
                granted = consent_value if consent_value is not None else bool(props.get("granted"))
                self.own("consent")[scope] = granted

    def run_event(self, run: Run, inp: EventInput) -> None:
        journey, name, ctx = self.journey_of(run), inp.name, self
        for rule in journey.exit_on:
            if rule.event == name and (rule.where is None or rule.where(ctx)):
                self.exit(run, journey, "exit_on")
                return
        goal = journey.goal
        if (
            goal
            and goal.event == name
            and (goal.where is None or goal.where(ctx))
            and inp.at <= run.entered_at + goal.within
            and not (run.vars and run.vars.get("converted"))
        ):
            self.convert(journey, run.id, goal.value)
            if goal.exit:
                self.exit(run, journey, "goal", converted=True)
                return
            run = self.own_run(run)
            run.vars = {**(run.vars or {}), "converted": True}
        for rule in journey.jumps:
            if rule.event == name and (rule.where is None or rule.where(ctx)) and rule.goto:
                run = self.own_run(run)
                self.move(run, journey, rule.goto, "jump")
                self.advance(run, journey)
                return
        node = journey.nodes[run.node]
        if isinstance(node, WaitForNode) and node.event == name and (node.where is None or node.where(ctx)):
            run = self.own_run(run)
            self.move(run, journey, node.happened, "event")
            self.advance(run, journey)

    def track_goals(self, inp: EventInput) -> None:
        kept = []
        for tracker in self.c.trackers:
            journey_id, version, run_id, _entered, deadline, _variant = tracker
            if deadline < self.now:
                continue
            journey = self.engine.versions.get((journey_id, version))
            goal = journey.goal if journey else None
            if (
                journey
                and goal
                and goal.event == inp.name
                and inp.at <= deadline
                and (goal.where is None or goal.where(self))
            ):
                self.convert(journey, run_id, goal.value)
                continue
            kept.append(tracker)
        if len(kept) < len(self.c.trackers):
            self.mine().trackers = tuple(kept)

    def convert(self, journey: Journey, run_id: str, value: Expression | None) -> None:
        amount = value.evaluate(self) if value is not None else None
        amount = float(amount) if isinstance(amount, int | float) and not isinstance(amount, bool) else None
        assert journey.goal is not None
        self.out.append(
            Conversion(
                self.workspace,
                self.c.id,
                journey.id,
                journey.version,
                run_id,
                journey.goal.event,
                amount,
                self.now,
            )
        )

    # ---- other inputs ------------------------------------------------------------------------------
    def on_timer(self, inp: TimerFired) -> None:
        run = self.c.runs.get(inp.run)
        if run is None:
            raise IllegalInput(
                "timer for a run that is not active; a finished run's timers are cancelled",
                run=inp.run,
                input_kind="timer",
            )
        journey = self.journey_of(run)
        if inp.token != run.timer:
            raise IllegalInput(
                f"stale timer {inp.token}; the run waits on timer {run.timer}",
                journey=journey.id,
                node=run.node,
                run=run.id,
                input_kind="timer",
            )
        run = self.own_run(run)
        run.timer = 0
        node = journey.nodes[run.node]
        if isinstance(node, WaitNode):
            self.move(run, journey, node.next, "next")
            self.advance(run, journey)
        elif isinstance(node, WaitForNode):
            self.move(run, journey, node.timed_out, "timeout")
            self.advance(run, journey)
        elif isinstance(node, SendNode):
            self.pending.append((run, journey, node))  # a deferred send tries the gate again
        else:
            raise IllegalInput(
                f"a {type(node).__name__} does not wait on timers",
                journey=journey.id,
                node=node.id,
                run=run.id,
                input_kind="timer",
            )

    def on_segment(self, inp: SegmentChange) -> None:
        segments = set(self.c.segments)
        if (inp.segment in segments) == inp.entered:
            raise IllegalInput(
                f"customer is already {'in' if inp.entered else 'out of'} segment {inp.segment!r}",
                input_kind="segment",
            )
        (segments.add if inp.entered else segments.discard)(inp.segment)
        self.segments = self.mine().segments = frozenset(segments)
        self.event = None
        on = "enter" if inp.entered else "leave"
        for journey, entry in self.engine.segment_index.get((inp.segment, on), ()):
            self.enter(journey, entry.node)

    def on_api_start(self, inp: ApiStart) -> None:
        journey = self.engine.live.get(inp.journey)
        if journey is None:
            raise IllegalInput(f"no live journey {inp.journey!r}", journey=inp.journey, input_kind="api")
        entry = next((e for e in journey.entries if e.kind == "api"), None)
        if entry is None:
            raise IllegalInput("the journey has no `api: true` entry", journey=journey.id, input_kind="api")
        if inp.data:
            self.event = {"event": "api_start", "properties": dict(inp.data)}
        self.enter(journey, entry.node)

    def on_schedule(self, inp: ScheduleTick) -> None:
        journey = self.engine.live.get(inp.journey)
        entry = next((e for e in journey.entries if e.kind == "schedule"), None) if journey else None
        if journey is None or entry is None:
            raise IllegalInput(
                "no live journey with a schedule entry", journey=inp.journey, input_kind="schedule"
            )
        if entry.audience is None or entry.audience in self.c.segments:
            self.enter(journey, entry.node)

    def on_migrate(self, inp: Migrate) -> None:
        target = self.engine.versions.get((inp.journey, inp.to_version))
        if target is None and (inp.mode, inp.to_version) != ("stop", 0):  # stop to 0 ends every run
            raise IllegalInput(
                f"version {inp.to_version} is not published", journey=inp.journey, input_kind="migrate"
            )
        for run in self.c.runs_of(inp.journey):
            if run.version == inp.to_version:
                continue
            old = self.journey_of(run)
            node_id = inp.mapping.get(run.node, run.node)
            if inp.mode == "stop" or target is None or node_id not in target.nodes:
                self.exit(run, old, "stopped")
                continue
            run = self.own_run(run)
            old_node, new_node = old.nodes[run.node], target.nodes[node_id]
            keep_timer = type(old_node) is type(new_node) and isinstance(new_node, WaitNode | WaitForNode)
            self.move(run, old, node_id, "migrated", cancel=not keep_timer)
            run.version = target.version
            if not keep_timer:
                self.advance(run, target)

    # ---- running nodes -----------------------------------------------------------------------------
    def enter(self, journey: Journey, node: str) -> None:
        if journey.id in self.engine.closed:
            return
        times = self.entries_before(journey)
        if times is not None:
            self.start(journey, node, times)

    def entries_before(self, journey: Journey) -> int | None:
        """How often the customer entered `journey` before; None if run or re-entry rules forbid it now."""
        c, jid = self.c, journey.id
        if not journey.concurrent_runs:
            for other in c.runs.values():
                if other.of[0] == jid:
                    return None
        entered = c.entries.get(jid)
        if entered is None:
            return 0
        times, last_at = entered
        rule = journey.reentry
        if times and (
            not rule.allowed
            or self.now - last_at < rule.cooldown
            or (rule.max is not None and times >= rule.max)
        ):
            return None
        return times

    def start(self, journey: Journey, node: str, times: int) -> None:
        """A new run at `node`; `times` is what `entries_before` allowed."""
        # Copy on write as in `own` and `own_runs`, written out: most inputs start a run.
        base, c, now, jid = self.base, self.mine(), self.now, journey.id
        entries = c.entries
        if entries is base.entries:
            entries = c.entries = dict(entries)
        entries[jid] = (times + 1, now)
        run_id = run_key(jid, c.id, self.input_id, node)
        arm = self.engine.arms.get(jid)
        if arm is None or arm[1] != journey.version:
            arm = shared_arm(jid, journey.version, None)
        run = Run.entering(run_id, arm, node, now)
        runs = c.runs
        if runs is base.runs:
            runs = c.runs = dict(runs)
        runs[run_id] = run
        self.transition(run, journey, None, node, "entered")
        self.advance(run, journey)

    def transition(
        self, run: Run, journey: Journey, frm: str | None, to: str | None, cause: TransitionCause
    ) -> None:
        """Record a move of `run` (the split arm it is in goes with every record, and a move out of a node
        says when the run entered it, so the time spent there needs no pairing of records)."""
        self.out.append(
            Transition(
                self.workspace,
                self.c.id,
                journey.id,
                journey.version,
                run.id,
                frm,
                to,
                cause,
                self.input_id,
                self.now,
                run.of[2],
                None if frm is None else run.since,
            )
        )

    def move(self, run: Run, journey: Journey, to: str, cause: TransitionCause, cancel: bool = True) -> None:
        if cancel and run.timer:
            self.out.append(CancelTimer(self.c.id, run.id, run.timer))
            run.timer = 0
        self.transition(run, journey, run.node, to, cause)
        run.node = to
        run.since = self.now

    def exit(self, run: Run, journey: Journey, cause: TransitionCause, converted: bool = False) -> None:
        if run.timer:
            self.out.append(CancelTimer(self.c.id, run.id, run.timer))
        self.transition(run, journey, run.node, None, cause)
        del self.own_runs()[run.id]
        self.pending = [p for p in self.pending if p[0].id != run.id]
        goal = journey.goal
        if goal and not converted and not (run.vars and run.vars.get("converted")):
            deadline = run.entered_at + goal.within
            if deadline > self.now:
                live = tuple(t for t in self.c.trackers if t[4] >= self.now)
                self.mine().trackers = (
                    *live,
                    (journey.id, journey.version, run.id, run.entered_at, deadline, run.variant),
                )

    def schedule(self, run: Run, at: float, kind: TimerKind) -> None:
        c = self.mine()
        c.seq = token = c.seq + 1
        run.timer = token
        self.out.append(ScheduleTimer(c.id, run.id, token, at, kind))

    def advance(self, run: Run, journey: Journey) -> None:
        """Run instantaneous nodes until the run waits, awaits the gate or exits."""
        nodes, limit = journey.nodes, self.policy.max_steps
        while True:
            self.steps += 1
            if self.steps > limit:
                raise RunawayJourney(journey.id, run.node, self.steps)
            node = nodes[run.node]
            if isinstance(node, WaitNode):
                due = self.wait_until(node)
                if due is None:
                    self.exit(run, journey, "next")
                    return
                if due > self.now:
                    self.schedule(run, due, "wait")
                    return
                self.move(run, journey, node.next, "next")
            elif isinstance(node, WaitForNode):
                self.schedule(run, self.now + node.timeout, "timeout")
                return
            elif isinstance(node, SendNode):
                self.pending.append((run, journey, node))
                return
            elif isinstance(node, BranchNode):
                branch = next((t for predicate, t in node.cases if predicate(self)), node.otherwise)
                self.move(run, journey, branch, "next")
            elif isinstance(node, SplitNode):
                variant = self.assign(run, journey, node)
                target = node.next.get(variant)
                run.variant = variant
                if target is None:
                    self.exit(run, journey, "next")
                    return
                self.move(run, journey, target, "next")
            elif isinstance(node, DecideNode):
                chosen = self.choose(run, journey, node)
                if chosen is not None:
                    run.vars = {**(run.vars or {}), "offer": chosen}
                self.move(run, journey, node.chosen if chosen is not None else node.none, "next")
            elif isinstance(node, UpdateNode):
                self.update(node)
                self.move(run, journey, node.next, "next")
            elif isinstance(node, EmitNode):
                self.emit(run, journey, node)
                if run.id not in self.c.runs:
                    return
                self.move(run, journey, node.next, "next")
            elif isinstance(node, ExitNode):
                self.exit(run, journey, "next")
                return

    def wait_until(self, node: WaitNode) -> float | None:
        """When a wait ends; None when a trait date is missing, or past with `if_past: exit`."""
        tz = self.timezone
        if node.seconds is not None:
            return self.now + node.seconds
        if node.window is not None:
            return next_window_start(self.now, tz, node.window)
        base = parse_time(self.c.traits.get(node.until_trait or ""), tz)
        if base is None:
            return None
        due = base + node.offset
        if node.at is not None:
            due = on_local_day_at(due, tz, node.at)
        if due <= self.now and node.if_past == "exit":
            return None
        return due

    def assign(self, run: Run, journey: Journey, node: SplitNode) -> str:
        """Stable per customer: a hash of journey, node and customer id picks the arm."""
        u = unit(journey.id, node.id, self.c.id)
        if u < node.holdout:
            variant = "holdout"
        else:
            scaled = (u - node.holdout) / (1 - node.holdout)
            variant = next((name for name, bound in node.variants if scaled < bound), node.variants[-1][0])
        candidates = (
            *((name, 0.0) for name, _ in node.variants),
            *((("holdout", 0.0),) if node.holdout else ()),
        )
        self.decision(
            run,
            journey,
            node.id,
            tuple((n, 1.0 if n == variant else 0.0) for n, _ in candidates),
            variant,
            "split",
        )
        return variant

    def decision(
        self,
        run: Run,
        journey: Journey,
        node: str,
        candidates: tuple[tuple[str, float], ...],
        chosen: str | None,
        policy: str,
    ) -> None:
        """Record what a split or decide node chose, among which candidates with which scores, and how."""
        self.out.append(
            Decision(
                self.workspace,
                self.c.id,
                journey.id,
                journey.version,
                run.id,
                node,
                candidates,
                chosen,
                policy,
                self.now,
            )
        )

    def choose(self, run: Run, journey: Journey, node: DecideNode) -> str | None:
        eligible = [o for o in node.offers if o.eligible is None or o.eligible(self)]
        scored = [(o.id, self.offer_score(run, journey, node, o)) for o in eligible]
        chosen = max(scored, key=lambda s: s[1])[0] if scored else None
        self.decision(run, journey, node.id, tuple(scored), chosen, node.policy)
        return chosen

    def offer_score(self, run: Run, journey: Journey, node: DecideNode, offer: Offer) -> float:
        if node.policy == "priority":
            return offer.priority
        if node.policy == "propensity_value":
            return offer.propensity * offer.value
        # Thompson sampling: a Beta draw seeded by stable ids keeps the step deterministic.
        successes, trials = self.stats.get((journey.id, node.id, offer.id), (0.0, 0.0))
        rng = random.Random(seed(run.id, node.id, offer.id, self.input_id))
        return rng.betavariate(1 + successes, 1 + max(trials - successes, 0.0)) * offer.value

    def update(self, node: UpdateNode) -> None:
        sets = {k: v.evaluate(self) if isinstance(v, Expression) else v for k, v in node.set}
        traits = self.own("traits")
        traits.update(sets)
        for name, amount in node.increment:
            current = traits.get(name)
            traits[name] = (
                current if isinstance(current, int | float) and not isinstance(current, bool) else 0
            ) + amount
        for name in node.unset:
            traits.pop(name, None)
        if node.add_tags or node.remove_tags:
            c = self.mine()
            self.tags = c.tags = (c.tags | frozenset(node.add_tags)) - frozenset(node.remove_tags)
        self.out.append(
            UpdateProfile(self.c.id, sets, dict(node.increment), node.unset, node.add_tags, node.remove_tags)
        )

    def emit(self, run: Run, journey: Journey, node: EmitNode) -> None:
        if node.event:
            self.out.append(
                EmitEvent(
                    self.c.id,
                    "e" + key(run.id, node.id, self.input_id),
                    node.event,
                    dict(node.properties),
                    self.now,
                )
            )
        elif node.start_journey:
            target = self.engine.live.get(node.start_journey)
            if target is None:
                raise IllegalInput(
                    f"emit starts journey {node.start_journey!r}, which is not live",
                    journey=journey.id,
                    node=node.id,
                    run=run.id,
                )
            entry = next((e.node for e in target.entries if e.kind == "api"), target.start)
            self.enter(target, entry)

    # ---- the gate ----------------------------------------------------------------------------------
    def settle(self) -> None:
        """Decide pending sends, highest priority × expected value first, until no run awaits the gate."""
        while self.pending:
            batch = sorted(self.pending, key=lambda p: (-gate.score(p[1]), p[1].id, p[0].id))
            self.pending = []
            for run, journey, node in batch:
                if run.id not in self.c.runs:
                    continue
                self.gate_one(self.own_run(run), journey, node)

    def gate_one(self, run: Run, journey: Journey, node: SendNode) -> None:
        deferrals = int((run.vars or {}).get("deferrals", 0))
        verdict = gate.decide(self.c, journey, node, self.policy, self.now, deferrals)
        if verdict.reason is None and verdict.channel is not None:
            offer = (run.vars or {}).get("offer")
            self.out.append(
                Send(
                    key(journey.id, journey.version, node.id, self.c.id, run.id, self.input_id),
                    self.c.id,
                    journey.id,
                    journey.version,
                    run.id,
                    node.id,
                    verdict.channel,
                    node.template,
                    self.now,
                    run.variant,
                    node.topic,
                    offer,
                    node.transactional,
                )
            )
            self.mine().sends = (
                *self.recent_sends(),
                (self.now, verdict.channel, journey.id, gate.score(journey), journey.cap_group),
            )
        else:
            assert verdict.reason is not None
            self.out.append(
                Suppression(
                    self.workspace,
                    self.c.id,
                    journey.id,
                    journey.version,
                    run.id,
                    node.id,
                    verdict.channel,
                    verdict.reason,
                    verdict.deferred_until,
                    self.now,
                )
            )
            if verdict.deferred_until is not None:
                run.vars = {**(run.vars or {}), "deferrals": deferrals + 1}
                self.schedule(run, verdict.deferred_until, "retry")
                return
        if run.vars and "deferrals" in run.vars:
            run.vars = {k: v for k, v in run.vars.items() if k != "deferrals"} or None
        self.move(run, journey, node.next, "next")
        self.advance(run, journey)

    def recent_sends(self) -> tuple[Any, ...]:
        horizon = max(self.policy.longest_cap, self.policy.arbitration_window)
        return tuple(s for s in self.c.sends if self.now - s[0] < horizon)
