"""Two drafts on the same synthetic customers: which is expected to win, and how sure that is.

Both drafts run on the same customers with the same seeds (common random numbers), so the difference in a
run comes from the drafts, not from different populations. The figure compared is conversion events per
1,000 customers the drafts could reach (the model's conversion event, whatever journey or none caused it),
so a draft cannot win by claiming conversions that would have happened anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rumbo.journey.model import Journey
from rumbo.simulate.model import BehaviourModel
from rumbo.simulate.report import Estimate, SimulationReport, summarise
from rumbo.simulate.simulator import Settings, Simulator


@dataclass(slots=True)
class Comparison:
    a: str
    b: str
    a_conversions: Estimate  # per 1,000 reachable customers
    b_conversions: Estimate
    difference: Estimate  # b − a
    probability_b_wins: float  # share of runs where B beat A (ties count half)
    winner: str
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_reports(a: SimulationReport, b: SimulationReport, a_name: str, b_name: str) -> Comparison:
    """Compare two reports made with the same settings and seed."""
    pairs = list(zip(a.per_run, b.per_run, strict=True))
    wins = sum(1.0 if y > x else 0.5 if y == x else 0.0 for x, y in pairs) / len(pairs)
    difference = Estimate.of([y - x for x, y in pairs])
    winner = b_name if wins > 0.5 else a_name if wins < 0.5 else "neither"
    sure = max(wins, 1 - wins)
    if winner == "neither" or (difference.low <= 0 <= difference.high and len(pairs) > 1):
        verdict = (
            f"no clear winner: {b_name} beat {a_name} in {wins:.0%} of {len(pairs)} runs and the interval on "
            "the difference includes 0 — run more customers or runs, or treat them as equivalent"
        )
    else:
        verdict = f"{winner} is expected to win: it came out ahead in {sure:.0%} of {len(pairs)} runs"
    return Comparison(
        a_name, b_name, a.treated_conversions, b.treated_conversions, difference, wins, winner, verdict
    )


def simulate(
    model: BehaviourModel, drafts: Sequence[Journey], live: Sequence[Journey], settings: Settings
) -> SimulationReport:
    """Run the drafts with the live journeys alongside and summarise every run."""
    simulator = Simulator(model, drafts, live, settings)
    return summarise(
        simulator.runs(), simulator.drafts, simulator.live, settings, model.source, model.conversion
    )
