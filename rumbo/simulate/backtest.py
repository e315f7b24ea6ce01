"""Backtests: recorded history replayed through a draft journey on virtual time, with nothing sent.

The draft runs alone on the real Engine over the events of a period, as if it had been live then. The
result says who would have entered, what they would have been sent (every such send is marked
`counterfactual`: it never happened and nothing is delivered), what the gate would have held back, and
where those sends fall on top of what actually ran: a delivery recorded in the archive to the same customer
close in time (a collision), or enough of them that the workspace's caps would have been exceeded.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from rumbo.engine.commands import Send
from rumbo.engine.policy import Policy
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.journey.model import Journey
from rumbo.records import Conversion, Suppression, Transition
from rumbo.replay.virtual import VirtualRuntime, customer_of, event_time, input_of
from rumbo.simulate.errors import SimulationError
from rumbo.simulate.history import Delivered, History


@dataclass(slots=True)
class CounterfactualSend:
    """A send the draft would have made. It was not made: `counterfactual` is always True."""

    customer: str
    journey: str
    node: str
    channel: str
    template: str
    at: str  # ISO time
    variant: str | None
    collides_with: list[str]  # journeys that actually sent to this customer within the window
    over_cap: bool  # with what other journeys actually sent, this send would have broken a frequency cap
    counterfactual: bool = True


@dataclass(slots=True)
class BacktestReport:
    journey: str
    start: str
    end: str
    source: str
    events: int  # history lines replayed
    customers: int  # customers with events in the period
    entered: int  # customers who would have entered
    runs: int
    converted: int
    nodes: dict[str, int]  # runs that would have reached each node
    sends: list[CounterfactualSend]
    sends_by_channel: dict[str, int]
    suppressed: dict[str, int]  # by reason, as the gate would have decided (dropped and deferred)
    collisions: dict[str, int]  # counterfactual sends colliding with each journey that actually ran
    over_cap: int
    actual_deliveries: int  # deliveries recorded in the period (what actually ran)
    refused: int
    entrants: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_day(text: str, option: str) -> float:
    """An ISO date or date-time (UTC unless it says otherwise) as epoch seconds."""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SimulationError(
            f"{option} {text!r} is not a date — give YYYY-MM-DD or an ISO date-time"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")


def backtest(
    journey: Journey,
    history: History,
    start: float,
    end: float,
    policy: Policy | None = None,
    window: float = 86400.0,
) -> BacktestReport:
    """Replay the part of `history` in [start, end) through `journey` alone (see the module docstring)."""
    if end <= start:
        raise SimulationError(f"--to {_iso(end)} must be after --from {_iso(start)}")
    rules = policy or Policy(workspace="backtest")
    messages = [m for m in history.messages if start <= event_time(m) < end]
    engine = Engine([journey], rules)
    runtime = VirtualRuntime(engine, customers=_profiles_before(engine, history, start))
    for message in messages:
        at = event_time(message)
        runtime.send(customer_of(message), input_of(message, at), at)
    runtime.advance_to(end)
    actual = [d for d in history.deliveries if start - rules.longest_cap <= d.at < end]
    by_customer: dict[str, list[Delivered]] = defaultdict(list)
    for delivery in actual:
        by_customer[delivery.customer].append(delivery)
    entrants: set[str] = set()
    nodes: Counter[str] = Counter()
    suppressed: Counter[str] = Counter()
    converted: set[str] = set()
    sends: list[CounterfactualSend] = []
    runs = 0
    drafted: dict[str, list[float]] = defaultdict(list)
    for command in runtime.commands:
        if isinstance(command, Transition):
            if command.cause == "entered":
                entrants.add(command.customer)
                runs += 1
            if command.to_node is not None:
                nodes[command.to_node] += 1
        elif isinstance(command, Suppression):
            suppressed[command.reason] += 1
        elif isinstance(command, Conversion):
            converted.add(command.run)
        elif isinstance(command, Send):
            theirs = by_customer.get(command.customer, [])
            colliding = sorted({d.journey for d in theirs if abs(d.at - command.at) <= window})
            # The live version of the same journey would be replaced by the draft, so its sends do not count.
            others = [d.at for d in theirs if d.journey != journey.id]
            over = _over_cap(rules, others, drafted[command.customer], command.at)
            drafted[command.customer].append(command.at)
            sends.append(
                CounterfactualSend(
                    command.customer,
                    command.journey,
                    command.node,
                    command.channel,
                    command.template,
                    _iso(command.at),
                    command.variant,
                    colliding,
                    over,
                )
            )
    notes = []
    if not history.deliveries:
        notes.append(
            "no delivery records in the history: collisions with what actually ran cannot be checked"
        )
    if any(e.kind != "event" for e in journey.entries) and not any(
        str(m.get("type", "")).startswith("rumbo:") for m in messages
    ):
        notes.append(
            f"{journey.id} also starts from segments, schedules or API calls, which this history does not "
            "record: only its event entries were replayed"
        )
    if not messages:
        notes.append(f"no events between {_iso(start)} and {_iso(end)}: check --from and --to")
    return BacktestReport(
        journey.id,
        _iso(start),
        _iso(end),
        history.source,
        len(messages),
        len({customer_of(m) for m in messages}),
        len(entrants),
        runs,
        len(converted),
        {n: nodes[n] for n in journey.nodes if nodes[n]},
        sends,
        dict(Counter(s.channel for s in sends).most_common()),
        dict(suppressed.most_common()),
        dict(Counter(j for s in sends for j in s.collides_with).most_common()),
        sum(s.over_cap for s in sends),
        sum(1 for d in actual if d.at >= start),
        len(runtime.refusals),
        sorted(entrants),
        notes,
    )


def _profiles_before(engine: Engine, history: History, start: float) -> dict[str, Customer]:
    """Profiles as identify calls before `start` left them (traits, consent), without runs: customers
    enter the period with the addresses and consent they had, not as strangers."""
    warm = VirtualRuntime(engine)
    for message in history.messages:
        at = event_time(message)
        if at >= start:
            break
        if message.get("type") == "identify":
            warm.send(customer_of(message), input_of(message, at), at)
    profiles = {}
    for customer_id, customer in warm.customers.items():
        profile = customer.copy()
        profile.runs, profile.trackers, profile.sends = {}, (), ()
        profiles[customer_id] = profile
    return profiles


def _over_cap(policy: Policy, actual: list[float], drafted: list[float], at: float) -> bool:
    """Would one more send at `at` exceed a cap, counting actual deliveries and earlier drafted sends?"""
    times = sorted([*actual, *drafted])
    for cap in policy.caps:
        if cap.channel is not None or cap.group is not None:
            continue  # only the caps over every send: the channel and group of actual sends may differ
        inside = (
            len(times)
            - bisect.bisect_right(times, at - cap.per)
            - (len(times) - bisect.bisect_right(times, at))
        )
        if inside >= cap.max:
            return True
    return False
