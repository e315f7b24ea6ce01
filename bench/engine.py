"""Engine throughput and memory: 50 live journeys, 100,000 customers, each event matching ~3 journeys.

Prints inputs/s of the engine and of a floor measured in the same run — a loop that only decodes the same
events (orjson), looks up the triggers for the event's name in a dict and updates a per-customer dict —
their ratio, and the bytes a waiting run adds to a customer's state.

Two workloads: *steady* — customers already have history (a first pass over earlier events, untimed, puts
them into journeys), which is what a live workspace sees; *first contact* — every customer is new, so most
events start runs, the engine's heaviest path. Each is measured with CPython's default garbage-collector
thresholds and with the setting rumbo's commands use (rumbo/tuning.py).

    .venv/bin/python bench/engine.py [--events 300000] [--customers 100000]

On a busy machine timings mean little; `--untimed steady|first` runs the engine once over the workload,
silently, so that valgrind can count its instructions instead. Instructions per input are the difference
between that count and the count with `--setup-only` (everything but the measured inputs), divided by
`--events`:

    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/engine.py \\
        --customers 10000 --history 8000 --events 4000 --untimed steady   # and again with --setup-only
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from rumbo.engine.inputs import EventInput
from rumbo.engine.policy import Policy
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.journey.build import build_journey
from rumbo.journey.document import Document
from rumbo.journey.model import Journey
from rumbo.tuning import GC_THRESHOLDS

JOURNEYS = 50
DEFAULT_GC = gc.get_threshold()
T0 = 1_772_438_400.0


def names() -> list[str]:
    return [f"event_{i}" for i in range(JOURNEYS)]


def make_journeys() -> list[Journey]:
    """Journey k enters on event k, waits for event k+1, converts on event k+2: every name matches 3."""
    events = names()
    out = []
    for k in range(JOURNEYS):
        doc: dict[str, Any] = {
            "journey": f"j{k}",
            "priority": 10 + k,
            "events": {e: {"properties": {"value": "number"}} for e in events},
            "entry": {"event": events[k], "where": "event.properties.value > 20"},
            "reentry": {"cooldown": "7d"},
            "goal": {"event": events[(k + 2) % JOURNEYS], "within": "14d"},
            "nodes": {
                "watch": {
                    "wait_for": {"event": events[(k + 1) % JOURNEYS], "timeout": "3d"},
                    "next": {"happened": "hello", "timed_out": "end"},
                },
                "hello": {"send": {"channel": "email", "template": f"t{k}"}, "next": "end"},
                "end": {"exit": {}},
            },
        }
        out.append(build_journey(Document(doc, f"j{k}.yaml")))
    return out


def make_events(count: int, customers: int, seed: int = 1, start: float = T0) -> list[bytes]:
    rng = random.Random(seed)
    events = names()
    lines = []
    for i in range(count):
        lines.append(
            orjson.dumps(
                {
                    "type": "track",
                    "messageId": f"m{i}",
                    "event": events[rng.randrange(JOURNEYS)],
                    "userId": f"u{rng.randrange(customers)}",
                    "timestamp": start + i * 0.5,
                    "properties": {"value": rng.randrange(100)},
                }
            )
        )
    return lines


def run_engine(engine: Engine, lines: list[bytes], customers: dict[str, Customer]) -> None:
    step = engine.step
    for line in lines:
        message = orjson.loads(line)
        who = message["userId"]
        customer = customers.get(who)
        if customer is None:
            customer = customers[who] = Customer(who, {"email": f"{who}@example.com"}, {"email": True})
        at = message["timestamp"]
        customers[who] = step(
            customer, EventInput(message["messageId"], message["event"], at, message), at
        ).customer


def run_floor(triggers: dict[str, list[str]], lines: list[bytes], state: dict[str, dict[str, int]]) -> None:
    for line in lines:
        message = orjson.loads(line)
        matched = triggers.get(message["event"], ())
        customer = state.get(message["userId"])
        if customer is None:
            customer = state[message["userId"]] = {}
        for journey in matched:
            customer[journey] = customer.get(journey, 0) + 1


def timed(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def deep_size(obj: object, seen: set[int]) -> int:
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, tuple | list | set | frozenset):
        size += sum(deep_size(v, seen) for v in obj)
    elif hasattr(obj, "__slots__"):
        size += sum(deep_size(getattr(obj, s), seen) for s in obj.__slots__ if hasattr(obj, s))
    return size


def bytes_per_waiting_run(engine: Engine, customers: int) -> tuple[float, float]:
    """Bytes one waiting run adds to a customer's state (the run, its id and times, its slot in the runs
    dict), and bytes of the entry history kept for re-entry rules, averaged over `customers` customers."""
    journey = engine.live["j0"]
    base = [Customer(f"u{i}", {"email": f"u{i}@example.com"}, {"email": True}) for i in range(customers)]
    waiting = [
        engine.step(c, EventInput(f"m{i}", "event_0", T0, {"properties": {"value": 50}}), T0).customer
        for i, c in enumerate(base)
    ]
    assert all(len(c.runs) == 1 and next(iter(c.runs.values())).node == "watch" for c in waiting)
    shared: set[int] = set()
    deep_size(journey, shared)  # the journey and interned names are shared by every run, not per run
    shared.add(id(next(iter(waiting[0].runs.values())).of))  # (journey, version), one per journey version
    for name in ("watch", "j0"):
        shared.add(id(name))
    pairs = list(zip(base, waiting, strict=True))
    runs = sum(deep_size(c.runs, set(shared)) - deep_size(b.runs, set(shared)) for b, c in pairs)
    entries = sum(deep_size(c.entries, set(shared)) - deep_size(b.entries, set(shared)) for b, c in pairs)
    return runs / customers, entries / customers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--history", type=int, help="events before the measured ones (default: --events)")
    parser.add_argument("--untimed", choices=("steady", "first"), help="run once, silently (for valgrind)")
    parser.add_argument("--setup-only", action="store_true", help="with --untimed: skip the measured inputs")
    args = parser.parse_args()
    journeys = make_journeys()
    engine = Engine(journeys, Policy(quiet_hours=None))
    history_size = args.events if args.history is None else args.history
    if args.untimed:
        gc.disable()  # collections depend on allocation counts, not on the work the engine does
        customers: dict[str, Customer] = {}
        if args.untimed == "steady":
            history = make_events(history_size, args.customers, seed=2, start=T0 - history_size * 0.5 - 3600)
            run_engine(engine, history, customers)
        lines = make_events(args.events, args.customers)
        if not args.setup_only:
            run_engine(engine, lines, customers)
        return
    matches = [
        len([j for j in journeys if name in j.entry_events() | j.listened_events()]) for name in names()
    ]
    lines = make_events(args.events, args.customers)
    triggers: dict[str, list[str]] = {}
    for journey in journeys:
        for name in journey.entry_events() | journey.listened_events():
            triggers.setdefault(name, []).append(journey.id)
    history = make_events(history_size, args.customers, seed=2, start=T0 - history_size * 0.5 - 3600)
    floor_runs = [timed(lambda: run_floor(triggers, lines, {}))]
    rates: dict[str, tuple[float, float]] = {}
    warm: dict[str, Customer] = {}
    for setting in ("default", "tuned"):
        gc.set_threshold(*(DEFAULT_GC if setting == "default" else GC_THRESHOLDS))
        cold: dict[str, Customer] = {}
        cold_seconds = timed(lambda: run_engine(engine, lines, cold))  # noqa: B023 (called at once)
        warm = {}
        run_engine(engine, history, warm)  # earlier history, untimed
        steady_seconds = timed(lambda: run_engine(engine, lines, warm))  # noqa: B023
        rates[setting] = (args.events / steady_seconds, args.events / cold_seconds)
        floor_runs.append(timed(lambda: run_floor(triggers, lines, {})))
    gc.set_threshold(*DEFAULT_GC)
    floor = args.events / min(floor_runs)  # the floor's best of three runs spread through the measurement
    waiting = sum(len(c.runs) for c in warm.values())
    print(
        f"journeys live          {len(journeys)} (each event matches {min(matches)}–{max(matches)} journeys)"
    )
    print(f"customers              {len(warm):,}; runs waiting at the end {waiting:,}")
    print(f"floor                  {floor:,.0f} inputs/s (decode + trigger lookup + dict update)")
    for setting, (steady, first) in rates.items():
        label = "CPython's default GC" if setting == "default" else f"rumbo's GC setting {GC_THRESHOLDS}"
        print(f"engine, {label}:")
        print(f"  steady               {steady:,.0f} inputs/s; / floor = {steady / floor:.2f}")
        print(f"  first contact        {first:,.0f} inputs/s; / floor = {first / floor:.2f}")
    print("  targets: >= 100,000 inputs/s and >= 0.33 of the floor")
    run_bytes, entry_bytes = bytes_per_waiting_run(engine, min(args.customers, 20_000))
    print(
        f"waiting run            {run_bytes:.0f} bytes (target <= 300); entry history {entry_bytes:.0f} B "
        "per customer and journey"
    )


if __name__ == "__main__":
    main()
