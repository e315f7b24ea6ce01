"""Rich tables for the terminal: simulation reports, comparisons, fit reports and backtests."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from rumbo.simulate.backtest import BacktestReport
from rumbo.simulate.compare import Comparison
from rumbo.simulate.fitreport import FitReport
from rumbo.simulate.report import Estimate, SimulationReport

SHOWN_SENDS = 15


def est(value: Estimate | None, kind: str = "count") -> str:
    """`mean [low–high]` in the unit `kind` (count, rate, number, money)."""
    if value is None:
        return "–"

    def one(x: float) -> str:
        if kind == "rate":
            return f"{x:.1%}"
        if kind == "money":
            return f"{x:,.2f}"
        if kind == "number":
            return f"{x:,.2f}"
        return f"{x:,.0f}"

    if value.low == value.high:
        return one(value.mean)
    # Counts, rates and costs cannot go below zero; differences (kind "number") can.
    low = value.low if kind == "number" else max(value.low, 0.0)
    return f"{one(value.mean)} [{one(low)}–{one(value.high)}]"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def print_simulation(report: SimulationReport, console: Console) -> None:
    console.print(
        f"[bold]rumbo simulate[/] · {', '.join(report.drafts)} with {len(report.live)} live journey(s) · "
        f"{report.customers:,} customers × {report.days:g} days × {report.runs} runs (seed {report.seed}) · "
        f"model from {report.model or 'a saved model'} · figures are mean [95% interval across runs]"
    )
    journeys = _table("Journeys", "journey", "entered", "converted", "rate", "sends", "msgs/customer/week")
    for j in report.journeys:
        journeys.add_row(
            f"{j.journey}{' (draft)' if j.draft else ''}",
            est(j.entered),
            est(j.converted),
            est(j.rate, "rate"),
            est(j.total_sends),
            est(j.messages_per_customer_week, "number"),
        )
    console.print(journeys)
    for j in report.journeys:
        if not j.draft:
            continue
        nodes = _table(f"Predicted flow through {j.journey}", "node", "reached", "then converted")
        for node in j.nodes:
            nodes.add_row(node.node, est(node.reached), est(node.converted))
        console.print(nodes)
    gate = _table("Sends held back by the gate", "journey", "reason", "dropped", "deferred")
    for j in report.journeys:
        for reason in sorted(set(j.suppressed) | set(j.deferred)):
            gate.add_row(j.journey, reason, est(j.suppressed.get(reason)), est(j.deferred.get(reason)))
    console.print(gate)
    if report.collisions:
        collisions = _table(
            "Collisions: held back by a cap or arbitration after another journey sent",
            "held back",
            "rival",
            "times",
        )
        for c in sorted(report.collisions, key=lambda c: -c.count.mean)[:20]:
            collisions.add_row(c.journey, c.rival, est(c.count))
        console.print(collisions)
    channels = _table("Channels", "channel", "cost", "opened", "clicked")
    for channel, cost in report.costs.items():
        channels.add_row(
            channel,
            est(cost, "money"),
            est(report.opened.get(channel), "rate"),
            est(report.clicked.get(channel), "rate"),
        )
    channels.add_row("total", est(report.total_cost, "money"), "", "")
    console.print(channels)
    console.print(
        f"Messages per customer per week: {est(report.messages_per_customer_week, 'number')}; customers by "
        "messages received: "
        + ", ".join(f"{k}: {est(v)}" for k, v in sorted(report.sends_per_customer.items())[:8])
    )
    console.print(
        f"{report.conversion} per 1,000 customers: reachable {est(report.treated_conversions, 'number')}, "
        f"holdout ({report.holdout:.0%}) {est(report.holdout_conversions, 'number')} → "
        f"predicted uplift {est(report.uplift, 'number')}"
    )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")


def print_comparison(comparison: Comparison, console: Console) -> None:
    table = _table("Which draft is expected to win", "draft", "conversions per 1,000 reachable customers")
    table.add_row(comparison.a, est(comparison.a_conversions, "number"))
    table.add_row(comparison.b, est(comparison.b_conversions, "number"))
    table.add_row(f"{comparison.b} − {comparison.a}", est(comparison.difference, "number"))
    console.print(table)
    console.print(
        f"P({comparison.b} beats {comparison.a}) = {comparison.probability_b_wins:.0%} — {comparison.verdict}"
    )


def print_fit(report: FitReport, console: Console) -> None:
    console.print(
        f"[bold]Model fit[/] · learned until {report.trained_until}, checked on {report.held_out} "
        f"({report.customers:,} customers)"
    )
    weeks = _table(f"{report.conversion} per customer per week (held out)", "week", "observed", "predicted")
    for week in report.weeks:
        inside = "" if week.predicted.contains(week.observed) else " [red]outside[/]"
        weeks.add_row(
            week.week, f"{week.observed:.3f}", est(week.predicted, "number").replace(",", "") + inside
        )
    console.print(weeks)
    mix = _table("Event mix (held out)", "event", "observed", "predicted")
    for row in report.mix:
        mix.add_row(row.event, f"{row.observed:.1%}", f"{row.predicted:.1%}")
    console.print(mix)
    console.print(
        f"Weekly error {report.weekly_error:.1%} · weeks inside the interval {report.covered:.0%} · "
        f"event-mix distance {report.mix_distance:.3f} → [bold]{report.verdict}[/]"
    )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")


def print_backtest(report: BacktestReport, console: Console) -> None:
    console.print(
        f"[bold]rumbo backtest[/] · {report.journey} over {report.start} to {report.end} "
        f"from {report.source} · [bold]counterfactual: nothing was sent[/]"
    )
    summary = _table("What the draft would have done", "measure", "value")
    for label, value in (
        ("events replayed", report.events),
        ("customers in the period", report.customers),
        ("customers who would have entered", report.entered),
        ("runs", report.runs),
        ("runs that would have converted", report.converted),
        ("counterfactual sends", len(report.sends)),
        ("…colliding with an actual delivery", sum(1 for s in report.sends if s.collides_with)),
        ("…over a frequency cap with what actually ran", report.over_cap),
        ("actual deliveries in the period", report.actual_deliveries),
    ):
        summary.add_row(label, f"{value:,}")
    console.print(summary)
    if report.nodes:
        nodes = _table("Runs reaching each node", "node", "runs")
        for node, count in report.nodes.items():
            nodes.add_row(node, f"{count:,}")
        console.print(nodes)
    if report.sends_by_channel or report.suppressed:
        gate = _table(
            "Sends by channel, and what the gate would have held back", "channel or reason", "count"
        )
        for channel, count in report.sends_by_channel.items():
            gate.add_row(f"sent on {channel}", f"{count:,}")
        for reason, count in report.suppressed.items():
            gate.add_row(f"held back: {reason}", f"{count:,}")
        console.print(gate)
    if report.collisions:
        collisions = _table("Collisions with what actually ran (within the window)", "journey", "sends")
        for journey, count in report.collisions.items():
            collisions.add_row(journey, f"{count:,}")
        console.print(collisions)
    if report.sends:
        sends = _table(
            f"First {min(SHOWN_SENDS, len(report.sends))} of {len(report.sends):,} counterfactual sends",
            "at",
            "customer",
            "node",
            "channel",
            "template",
            "collides with",
        )
        for send in report.sends[:SHOWN_SENDS]:
            sends.add_row(
                send.at[:19],
                send.customer,
                send.node,
                send.channel,
                send.template,
                ", ".join(send.collides_with) or "–",
            )
        console.print(sends)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
