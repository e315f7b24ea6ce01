"""The demo's work: journeys, a synthetic population on virtual time, the archive, and a summary."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import rumbo
from rumbo.analytics.archive import Archive
from rumbo.demo.population import Population
from rumbo.engine.commands import Send
from rumbo.engine.policy import Policy
from rumbo.engine.step import Engine
from rumbo.journey.load import load_journeys
from rumbo.journey.model import Journey, SplitNode
from rumbo.records import Conversion, Decision, Delivery, Suppression, Transition, record_kind, record_to_dict
from rumbo.replay.summary import JourneySummary, summarize
from rumbo.replay.virtual import VirtualRuntime, customer_of, event_time, input_of

START = 1_772_409_600.0  # 2026-03-02 00:00 UTC, a Monday
PACKAGE_EXAMPLES = Path(rumbo.__file__).parent / "_examples" / "journeys"
CHECKOUT_EXAMPLES = Path(rumbo.__file__).parent.parent / "examples" / "journeys"


def example_journeys() -> Path:
    """The example journeys: from the checkout when running from one, else the copy inside the package."""
    return CHECKOUT_EXAMPLES if CHECKOUT_EXAMPLES.is_dir() else PACKAGE_EXAMPLES


@dataclass(slots=True)
class DemoResult:
    home: Path
    journeys: list[Journey]
    customers: int
    events: int
    inputs: int
    summaries: dict[str, JourneySummary]
    sends_per_customer: Counter[int] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    archive_rows: dict[str, int] = field(default_factory=dict)


def run_demo(home: Path, customers: int, days: int, seed: int, console: Console) -> DemoResult:
    """Run the whole demo into `home` (emptied first) and return what happened."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    journeys = load_journeys([example_journeys()])
    console.print(
        f"[bold]rumbo demo[/] · {len(journeys)} journeys from {example_journeys()} · data in {home}"
    )
    population = Population(customers, days, START, seed)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"generating {customers:,} customers × {days} days", total=customers)
        messages = []
        for message in population.messages():
            messages.append(message)
            if message["type"] == "identify":
                progress.advance(task)
        messages.sort(key=event_time)
        runtime = VirtualRuntime(Engine(journeys, Policy(workspace="demo")))
        task = progress.add_task("running the journeys on virtual time", total=len(messages))
        for i, message in enumerate(messages):
            at = event_time(message)
            runtime.send(customer_of(message), input_of(message, at), at)
            if i % 5000 == 4999:
                progress.advance(task, 5000)
        runtime.advance_to(START + days * 86400)
        progress.update(task, completed=len(messages))
        task = progress.add_task("writing the analytics archive", total=2)
        rows = write_archive(Archive(home / "archive"), messages, runtime)
        progress.update(task, completed=2)
    result = DemoResult(
        home,
        journeys,
        customers,
        len(messages),
        runtime.inputs,
        summarize(runtime.commands, runtime.customers),
        refused=len(runtime.refusals),
        archive_rows=rows,
    )
    per_customer = Counter(c.customer for c in runtime.commands if isinstance(c, Send))
    result.sends_per_customer = Counter(per_customer[c] for c in runtime.customers)
    result.suppressed = Counter(c.reason for c in runtime.commands if isinstance(c, Suppression))
    return result


def write_archive(
    archive: Archive, messages: list[dict[str, Any]], runtime: VirtualRuntime
) -> dict[str, int]:
    """Events, transitions, decisions, suppressions, conversions and (queued) deliveries as Parquet."""
    events = [
        {
            "workspace": "demo",
            "customer": customer_of(m),
            "messageId": m["messageId"],
            "type": m["type"],
            "event": m.get("event"),
            "userId": m.get("userId"),
            "channel": m.get("channel", "other"),
            "timestamp": event_time(m),
            "received_at": event_time(m),
            "properties": m.get("properties"),
            "traits": m.get("traits"),
            "context": m.get("context"),
        }
        for m in messages
        if not str(m["type"]).startswith("rumbo:")
    ]
    grouped: dict[str, list[dict[str, Any]]] = {"event": events}
    for command in runtime.commands:
        if isinstance(command, Transition | Decision | Suppression | Conversion):
            grouped.setdefault(record_kind(command), []).append(record_to_dict(command))
        elif isinstance(command, Send):
            # Nothing is delivered in the demo yet: each send is recorded as queued for its channel.
            delivery = Delivery(
                "demo",
                command.customer,
                command.journey,
                command.version,
                command.run,
                command.node,
                command.key,
                command.channel,
                command.template,
                command.variant,
                "queued",
                command.at,
            )
            grouped.setdefault("delivery", []).append(record_to_dict(delivery))
    for kind, rows in grouped.items():
        archive.append(kind, rows)
    return {kind: len(rows) for kind, rows in grouped.items()}


def print_summary(result: DemoResult, console: Console) -> None:
    """Per journey entered/converted/exited, per-node counts, the A/B outcome, messages and suppressions."""
    table = Table(title="Journeys", title_justify="left")
    for column in ("journey", "entered", "converted", "rate", "value", "exited", "waiting", "sends"):
        table.add_column(column, justify="left" if column == "journey" else "right", no_wrap=True)
    for journey in result.journeys:
        s = result.summaries.get(journey.id) or JourneySummary(journey.id)
        has_goal = journey.goal is not None
        rate = f"{s.converted / s.entered:.1%}" if s.entered and has_goal else "–"
        table.add_row(
            journey.id,
            f"{s.entered:,}",
            f"{s.converted:,}" if has_goal else "–",
            rate,
            f"{s.value:,.0f}" if has_goal else "–",
            f"{sum(s.exited.values()):,}",
            f"{s.waiting:,}",
            f"{sum(s.sends.values()):,}",
        )
    console.print(table)
    nodes = Table(title="Per node: customers who reached it", title_justify="left")
    nodes.add_column("journey")
    nodes.add_column("nodes (reached)")
    for journey in result.journeys:
        reached = result.summaries.get(journey.id) or JourneySummary(journey.id)
        nodes.add_row(journey.id, " · ".join(f"{n} {reached.node_entered[n]:,}" for n in journey.nodes))
    console.print(nodes)
    for journey in result.journeys:
        tested = result.summaries.get(journey.id)
        splits = [n for n in journey.nodes.values() if isinstance(n, SplitNode)]
        if tested is None or not splits:
            continue
        ab = Table(title=f"A/B test in {journey.id} (split '{splits[0].id}')", title_justify="left")
        for column in ("arm", "runs", "converted", "rate"):
            ab.add_column(column, justify="right" if column != "arm" else "left")
        for variant, runs in sorted(tested.variant_runs.items()):
            won = tested.variant_conversions[variant]
            ab.add_row(variant, f"{runs:,}", f"{won:,}", f"{won / runs:.1%}" if runs else "–")
        console.print(ab)
    total_sends = sum(k * v for k, v in result.sends_per_customer.items())
    weeks = 90 / 7
    console.print(
        f"Messages: {total_sends:,} to {result.customers:,} customers — "
        f"{total_sends / result.customers:.2f} per customer, "
        f"{total_sends / result.customers / weeks:.2f} per customer per week; "
        f"most to one customer: {max(result.sends_per_customer, default=0)}"
    )
    suppressed = ", ".join(f"{k} {v:,}" for k, v in result.suppressed.most_common()) or "none"
    console.print(f"Sends held back by the gate: {suppressed}")
    console.print(f"{result.events:,} events → {result.inputs:,} engine inputs; {result.refused} refused")
    archive = result.home / "archive"
    console.print("\n[bold]Where to look next[/]")
    console.print(f"  rumbo analyze experiment --archive {archive}")
    console.print(f"  rumbo analyze attribution --archive {archive} --model markov")
    console.print(f"  rumbo analyze clv --archive {archive}")
    console.print(f"  rumbo journey graph {example_journeys() / 'cart-recovery.yaml'}")
    console.print("  docs/journeys.md — write your own journey; docs/engine.md — how the engine decides")
