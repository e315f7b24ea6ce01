"""Simulator throughput and overhead: synthetic customers × 90 days through the eight example journeys.

The model is learned from the demo's synthetic population (2,000 customers × 90 days, untimed). Then:

* *throughput* — `--customers` (default 100,000) simulated customers × `--days` (90) through all eight
  example journeys together, one run, on one core; target ≤ 30 s;
* *overhead* — a run of `--overhead-customers` (default 10,000) records every (customer, input, now) it
  gives the engine; the same inputs are then fed to a bare loop over a fresh Engine (a dict of customers,
  `engine.step`, nothing else). The simulator is timed in a run that records nothing, and the inputs come
  from a second, untimed run with the same seed (runs are deterministic, so the inputs are the same; the
  counts are checked). Simulator time / bare engine time is the overhead; target ≤ 1.5×. The recorded
  inputs stay in memory, which is why this part uses fewer customers.

    .venv/bin/python bench/simulate.py [--customers 100000] [--days 90] [--overhead-customers 10000]
"""

from __future__ import annotations

import argparse
import time

from rumbo.demo.population import Population
from rumbo.demo.run import START, example_journeys
from rumbo.engine.policy import Policy
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.journey.load import load_journeys
from rumbo.simulate.history import from_messages
from rumbo.simulate.learn import fit_model
from rumbo.simulate.simulator import Settings, Simulator
from rumbo.tuning import tune_gc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=90.0)
    parser.add_argument("--overhead-customers", type=int, default=10_000)
    args = parser.parse_args()
    tune_gc()
    journeys = load_journeys([example_journeys()])
    history = from_messages(Population(2000, 90, START, 7).messages(), source="demo population")
    model = fit_model(history)
    policy = Policy(workspace="simulation")
    print(f"model: {len(model.segments)} segments from {model.events:,} events; {len(journeys)} journeys")

    settings = Settings(args.customers, args.days, 1, 1, 0.0, policy=policy)
    simulator = Simulator(model, journeys, (), settings)
    began = time.perf_counter()
    tally = simulator.run(0)
    took = time.perf_counter() - began
    print(
        f"throughput   {args.customers:,} customers × {args.days:g} days: {took:.1f} s "
        f"({tally.inputs:,} engine inputs, {tally.inputs / took:,.0f} inputs/s, "
        f"{sum(tally.sends.values()):,} sends); target ≤ 30 s → {'met' if took <= 30 else 'NOT met'}"
    )

    small = Settings(args.overhead_customers, args.days, 1, 1, 0.0, policy=policy)
    began = time.perf_counter()
    tally = Simulator(model, journeys, (), small).run(0)
    simulated = time.perf_counter() - began
    recorder = Simulator(model, journeys, (), small)
    recorder.record_inputs()
    recorder.run(0)
    recorded = recorder.recorded or []
    assert len(recorded) == tally.inputs, "a run with the same seed gave different inputs"
    engine = Engine(journeys, policy)
    customers: dict[str, Customer] = {}
    began = time.perf_counter()
    for customer_id, inp, now in recorded:
        state = customers.get(customer_id)
        if state is None:
            state = Customer(customer_id)
        customers[customer_id] = engine.step(state, inp, now).customer
    bare = time.perf_counter() - began
    ratio = simulated / bare
    print(
        f"overhead     {args.overhead_customers:,} customers, {len(recorded):,} inputs: "
        f"simulator {simulated:.2f} s, bare engine on the same inputs {bare:.2f} s → {ratio:.2f}×; "
        f"target ≤ 1.5× → {'met' if ratio <= 1.5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
