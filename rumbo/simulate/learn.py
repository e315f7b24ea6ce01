"""Learning a BehaviourModel from history: counts of what followed what, after how long, and what
followed each message compared with what the customer's state predicted anyway."""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict
from typing import Any

from rumbo.simulate.errors import SimulationError
from rumbo.simulate.history import History, Seen
from rumbo.simulate.model import END, BehaviourModel, Dwell, Response, SegmentModel

WEEK = 7 * 86400.0
PAIR_MIN = 20  # a pair of events needs this many examples for its own dwell distribution
STATE_MIN = 30  # a (segment, event) needs this many examples for its own baseline conversion chance
SAMPLES = 30  # property dicts kept per event, traits kept per segment
NO_SEGMENT = "all"


def fit_model(
    history: History,
    conversion: str = "order_completed",
    segment_by: str = "segment",
    window: float = 3 * 86400.0,
    end: float | None = None,
) -> BehaviourModel:
    """Learn the model from `history`; `end` is when observation stopped (default: the last event)."""
    if not history.events:
        raise SimulationError(
            f"{history.source or 'the history'}: no events to learn from — give an archive or event files "
            "with track events"
        )
    start, stop = history.start, end if end is not None else history.end
    per_customer: dict[str, list[Seen]] = defaultdict(list)
    for event in history.events:
        per_customer[event.customer].append(event)
    sends: dict[str, list[float]] = defaultdict(list)
    for delivery in history.deliveries:
        sends[delivery.customer].append(delivery.at)

    def segment_of(customer: str) -> str:
        value = history.traits.get(customer, {}).get(segment_by)
        return str(value) if value is not None and value != "" else NO_SEGMENT

    grouped: dict[str, list[str]] = defaultdict(list)
    for customer in sorted(per_customer):
        grouped[segment_of(customer)].append(customer)
    segments = {
        name: _segment(name, customers, per_customer, history, sends, conversion, window, start, stop)
        for name, customers in sorted(grouped.items())
    }
    chances = _state_chances(per_customer, sends, segment_of, conversion, window, stop)
    responses = _responses(history, per_customer, segment_of, chances, conversion, window, stop)
    return BehaviourModel(
        conversion, window, segment_by, segments, responses, history.source, start, stop, len(history.events)
    )


def _segment(
    name: str,
    customers: list[str],
    per_customer: dict[str, list[Seen]],
    history: History,
    sends: dict[str, list[float]],
    conversion: str,
    window: float,
    start: float,
    stop: float,
) -> SegmentModel:
    first: Counter[str] = Counter()
    first_dwell: list[float] = []
    transitions: dict[str, Counter[str]] = defaultdict(Counter)
    dwell: dict[str, list[float]] = defaultdict(list)
    pairs: dict[str, list[float]] = defaultdict(list)
    properties: dict[str, list[dict[str, Any]]] = defaultdict(list)
    last: list[tuple[str, float]] = []
    conversions, weeks = 0, 0.0
    for customer in customers:
        events = per_customer[customer]
        first[events[0].name] += 1
        first_dwell.append(events[0].at - start)
        sent = sends.get(customer, [])
        for before, after in itertools.pairwise(events):
            if _sent_between(sent, before.at, after.at):
                continue  # what followed a message is the message's effect, learned as a response instead
            gap = after.at - before.at
            transitions[before.name][after.name] += 1
            dwell[before.name].append(gap)
            pairs[f"{before.name}>{after.name}"].append(gap)
        for event in events:
            properties[event.name].append(dict(event.properties))
        last.append((events[-1].name, stop - events[-1].at))
        covered = _covered(sent, window, stop)
        weeks += max(0.0, (stop - start) - covered) / WEEK
        conversions += sum(1 for e in events if e.name == conversion and not _after_send(sent, e.at, window))
    dwells = {event: Dwell.of(gaps) for event, gaps in sorted(dwell.items())}
    for name, remaining in last:
        # A last event followed by more silence than 90% of that event's gaps is taken as the end of the
        # customer's activity; a shorter silence is only the end of the observation (censored).
        known = dwells.get(name)
        if known is not None and known.count >= 5 and remaining > known.quantile(0.9):
            transitions[name][END] += 1
    traits = [history.traits[c] for c in customers if c in history.traits]
    return SegmentModel(
        len(customers),
        dict(sorted(first.items())),
        Dwell.of(first_dwell),
        {event: dict(sorted(following.items())) for event, following in sorted(transitions.items())},
        dwells,
        {pair: Dwell.of(gaps) for pair, gaps in sorted(pairs.items()) if len(gaps) >= PAIR_MIN},
        {event: _spread(values) for event, values in sorted(properties.items())},
        _spread(traits),
        conversions,
        round(weeks, 4),
    )


def _spread(values: list[Any]) -> list[Any]:
    """At most SAMPLES values taken evenly across the list (deterministic, unlike a random sample)."""
    if len(values) <= SAMPLES:
        return list(values)
    step = len(values) / SAMPLES
    return [values[int(i * step)] for i in range(SAMPLES)]


def _covered(sends: list[float], window: float, stop: float) -> float:
    """Length of the union of [send, send + window) clipped at `stop`."""
    total, reach = 0.0, float("-inf")
    for at in sends:
        begin, finish = max(at, reach), min(at + window, stop)
        if finish > begin:
            total += finish - begin
        reach = max(reach, at + window)
    return total


def _sent_between(sends: list[float], begin: float, end: float) -> bool:
    index = bisect.bisect_left(sends, begin)
    return index < len(sends) and sends[index] <= end


def _after_send(sends: list[float], at: float, window: float) -> bool:
    """True if a send happened in [at - window, at)."""
    index = bisect.bisect_left(sends, at)
    return index > 0 and at - sends[index - 1] <= window


def _state_chances(
    per_customer: dict[str, list[Seen]],
    sends: dict[str, list[float]],
    segment_of: Any,
    conversion: str,
    window: float,
    stop: float,
) -> dict[tuple[str, str], float]:
    """P(conversion within the window | last event, segment) from moments with no message after them;
    (segment, "") and ("", event) and ("", "") are the fallbacks."""
    hits: Counter[tuple[str, str]] = Counter()
    tries: Counter[tuple[str, str]] = Counter()
    for customer, events in per_customer.items():
        segment, sent = segment_of(customer), sends.get(customer, [])
        times = [e.at for e in events if e.name == conversion]
        for event in events:
            if event.at + window > stop:
                break
            following = bisect.bisect_right(sent, event.at)
            if following < len(sent) and sent[following] <= event.at + window:
                continue  # a message went out: this moment is not evidence of the baseline
            index = bisect.bisect_right(times, event.at)
            hit = index < len(times) and times[index] <= event.at + window
            for key in ((segment, event.name), (segment, ""), ("", event.name), ("", "")):
                tries[key] += 1
                hits[key] += hit
    return {key: hits[key] / n for key, n in tries.items() if n >= STATE_MIN or key == ("", "")}


def _responses(
    history: History,
    per_customer: dict[str, list[Seen]],
    segment_of: Any,
    chances: dict[tuple[str, str], float],
    conversion: str,
    window: float,
    stop: float,
) -> dict[str, Response]:
    responses: dict[str, Response] = {}
    delays: dict[str, list[float]] = defaultdict(list)
    event_times = {c: [e.at for e in events] for c, events in per_customer.items()}
    for delivery in history.deliveries:
        if delivery.at + window > stop:
            continue  # the window is not over yet: whether it converted is unknown
        events = per_customer.get(delivery.customer, [])
        times = event_times.get(delivery.customer, [])
        index = bisect.bisect_right(times, delivery.at)
        state = events[index - 1].name if index else ""
        segment = segment_of(delivery.customer)
        expected = next(
            (chances[k] for k in ((segment, state), ("", state), (segment, ""), ("", "")) if k in chances),
            0.0,
        )
        converted_at = next(
            (e.at for e in events[index:] if e.name == conversion and e.at <= delivery.at + window), None
        )
        for key in (f"{delivery.channel}/{delivery.template}", delivery.channel):
            response = responses.setdefault(key, Response())
            response.sends += 1
            response.opened += delivery.opened or delivery.clicked
            response.clicked += delivery.clicked
            response.expected += expected
            if converted_at is not None:
                response.converted += 1
                delays[key].append(converted_at - delivery.at)
    for key, response in responses.items():
        response.expected = round(response.expected, 4)
        response.delay = Dwell.of(delays[key])
    return dict(sorted(responses.items()))
