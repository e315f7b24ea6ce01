"""What a replay did per journey: entries, conversions, exits, per-node counts, sends, suppressions."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rumbo.engine.commands import Command, Send
from rumbo.engine.state import Customer
from rumbo.records import Conversion, Suppression, Transition


@dataclass(slots=True)
class JourneySummary:
    journey: str
    entered: int = 0
    converted: int = 0
    value: float = 0.0
    exited: Counter[str] = field(default_factory=Counter)  # by cause
    waiting: int = 0
    node_entered: Counter[str] = field(default_factory=Counter)
    node_waiting: Counter[str] = field(default_factory=Counter)
    sends: Counter[str] = field(default_factory=Counter)  # by channel
    suppressed: Counter[str] = field(default_factory=Counter)  # by reason
    variant_runs: Counter[str] = field(default_factory=Counter)
    variant_conversions: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: dict(v) if isinstance(v, Counter) else v
            for k, v in ((name, getattr(self, name)) for name in self.__slots__)
        }


def summarize(commands: Iterable[Command], customers: Mapping[str, Customer]) -> dict[str, JourneySummary]:
    """Summaries per journey id from the commands a run produced and the customers' final states."""
    out: dict[str, JourneySummary] = {}
    run_variant: dict[str, tuple[str, str]] = {}  # run -> (journey, variant)
    converted_runs: dict[str, set[str]] = defaultdict(set)

    def of(journey: str) -> JourneySummary:
        return out.setdefault(journey, JourneySummary(journey))

    for command in commands:
        if isinstance(command, Transition):
            summary = of(command.journey)
            if command.cause == "entered":
                summary.entered += 1
            if command.to_node is not None:
                summary.node_entered[command.to_node] += 1
            else:
                summary.exited[command.cause] += 1
            if command.variant:
                run_variant[command.run] = (command.journey, command.variant)
        elif isinstance(command, Conversion):
            if command.run not in converted_runs[command.journey]:
                converted_runs[command.journey].add(command.run)
                summary = of(command.journey)
                summary.converted += 1
                summary.value += command.value or 0.0
        elif isinstance(command, Send):
            of(command.journey).sends[command.channel] += 1
        elif isinstance(command, Suppression):
            of(command.journey).suppressed[command.reason] += 1
    for run_id, (journey, variant) in run_variant.items():
        out[journey].variant_runs[variant] += 1
        if run_id in converted_runs[journey]:
            out[journey].variant_conversions[variant] += 1
    count_waiting(out, customers)
    return out


def count_waiting(summaries: dict[str, JourneySummary], customers: Mapping[str, Customer]) -> None:
    """Add the runs the customers hold (still waiting somewhere) to their journeys' summaries."""
    for customer in customers.values():
        for run in customer.runs.values():
            summary = summaries.get(run.journey)
            if summary is None:
                summary = summaries[run.journey] = JourneySummary(run.journey)
            summary.waiting += 1
            summary.node_waiting[run.node] += 1
