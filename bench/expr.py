"""Compiled predicates against the same logic hand-written as Python lambdas, measured in the same run.

Two predicates: a typical field test and a helper-using one. Each is evaluated over the same 2,000 customer
contexts (a mix of present, missing and wrongly typed fields) through `Predicate.__call__`, through the
predicate's `test` closure (what a hot loop may hold on to), and as a hand-written lambda with the same null
and type safety. Prints evaluations per second and the ratio of the compiled predicate's time to the
lambda's (lower is better; the target is at most 2x). Run: .venv/bin/python bench/expr.py
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rumbo.expr import compile_predicate

DAY = 86400.0
NOW = 1_795_000_000.0


@dataclass(slots=True)
class Context:
    """An EvalContext with count() answered by bisecting per-event time lists, as a store would keep them."""

    event: Mapping[str, Any] | None
    traits: Mapping[str, Any]
    consent: Mapping[str, bool] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    now: float = NOW
    timezone: str | None = None
    times: dict[str, list[float]] = field(default_factory=dict)

    def count(self, event: str, since: float | None) -> int:
        times = self.times.get(event)
        if not times:
            return 0
        return len(times) if since is None else len(times) - bisect.bisect_left(times, since)

    def last(self, event: str) -> Mapping[str, Any] | None:
        return None


def contexts(size: int, seed: int = 7) -> list[Context]:
    rng = random.Random(seed)
    values: list[Any] = [5, 25, 20.5, 100, None, "30", True]
    plans = ["pro", "free", None]
    result = []
    for _ in range(size):
        properties: dict[str, Any] = {"currency": "EUR"}
        value = rng.choice(values)
        if value is not None:
            properties["value"] = value
        traits: dict[str, Any] = {"country": "ES"}
        plan = rng.choice(plans)
        if plan is not None:
            traits["plan"] = plan
        orders = sorted(NOW - rng.uniform(0, 90) * DAY for _ in range(rng.randint(0, 5)))
        result.append(
            Context(
                {"event": "cart_abandoned", "properties": properties},
                traits,
                times={"order_completed": orders},
            )
        )
    return result


Fn = Callable[[Any], Any]


def best_times(fns: list[Fn], inputs: list[Context], rounds: int, repeats: int = 9) -> list[float]:
    """Best seconds per evaluation of each fn. The fns take turns within every repeat, so a burst of load
    from other processes on the machine slows all of them alike instead of skewing one."""
    best = [float("inf")] * (len(fns) + 1)
    for _ in range(repeats):
        for index, fn in enumerate([*fns, None]):
            start = time.perf_counter()
            if fn is None:  # the bare loop, so per-evaluation costs net of it can be shown too
                for _ in range(rounds):
                    for _ctx in inputs:
                        pass
            else:
                for _ in range(rounds):
                    for ctx in inputs:
                        fn(ctx)
            best[index] = min(best[index], (time.perf_counter() - start) / (len(inputs) * rounds))
    return best


def hand_typical(ctx: Any) -> bool:
    return (
        (e := ctx.event) is not None
        and (p := e.get("properties")).__class__ is dict
        and (v := p.get("value")).__class__ in (int, float)
        and v > 20
        and ctx.traits.get("plan") == "pro"
    )


def hand_count(ctx: Any) -> bool:
    return bool(ctx.count("order_completed", ctx.now - 30 * DAY) >= 2)


CASES: list[tuple[str, Fn]] = [
    ("event.properties.value > 20 and profile.traits.plan == 'pro'", hand_typical),
    ("count('order_completed', within='30d') >= 2", hand_count),
]


def main() -> None:
    inputs = contexts(2000)
    rounds = 20
    print(f"{len(inputs)} contexts x {rounds} rounds, best of 9 interleaved repeats")
    for source, hand in CASES:
        predicate = compile_predicate(source)
        for ctx in inputs:  # the compiled predicate and the lambda must agree before they are timed
            assert predicate(ctx) is hand(ctx), (source, ctx)
        timed: list[Fn] = [hand, predicate, predicate.test]
        hand_time, call_time, test_time, overhead = best_times(timed, inputs, rounds)
        print(f"\n{source}")
        print(f"  hand-written lambda   {1 / hand_time:>12,.0f} eval/s")
        for label, spent in (("Predicate.__call__", call_time), ("Predicate.test", test_time)):
            net = (spent - overhead) / (hand_time - overhead)
            print(
                f"  {label:<21} {1 / spent:>12,.0f} eval/s  ratio {spent / hand_time:.2f}x"
                f"  (net of the loop's {overhead * 1e9:.0f} ns: {net:.2f}x)"
            )


if __name__ == "__main__":
    main()
