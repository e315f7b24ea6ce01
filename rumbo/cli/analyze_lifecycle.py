"""`rumbo analyze lifecycle`: customers across lifecycle stages over time, or weekly cohort retention."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from rumbo.analytics.lifecycle import Lifecycle, LifecycleRules, Retention, lifecycle, retention
from rumbo.analytics.output import Format, render, save_chart
from rumbo.cli.analyze_options import common_options, empty_notes, engine_for
from rumbo.durations import parse_duration
from rumbo.errors import RumboError


@click.command("lifecycle")
@click.option("--period", type=click.Choice(["week", "month"]), default="week", show_default=True)
@click.option(
    "--purchase-event",
    "purchase_events",
    multiple=True,
    default=("order_completed",),
    show_default=True,
    help="An event that counts as a purchase; repeat for several.",
)
@click.option(
    "--active", default="30d", show_default=True, help="A purchase this recent keeps a customer active."
)
@click.option("--lapsed", default="90d", show_default=True, help="No purchase for this long: lapsed.")
@click.option("--cohorts", is_flag=True, help="Weekly first-seen cohort retention instead of stages.")
@common_options("Save the stages over time (or the retention heat map) as FILE.png or FILE.html.")
def lifecycle_command(
    period: Literal["week", "month"],
    purchase_events: tuple[str, ...],
    active: str,
    lapsed: str,
    cohorts: bool,
    archive_dir: Path | None,
    engine: str,
    fmt: Format,
    chart: Path | None,
) -> None:
    """Customers per stage (prospect, new, active, reactivated, at_risk, lapsed) at the end of each period."""
    try:
        query_engine = engine_for(archive_dir, engine)
        result: Lifecycle | Retention
        if cohorts:
            result = retention(query_engine)
            title = "Weekly cohort retention"
        else:
            rules = LifecycleRules(tuple(purchase_events), parse_duration(active), parse_duration(lapsed))
            result = lifecycle(query_engine, rules, period=period)
            title = f"Lifecycle stages by {period} (active {active}, lapsed {lapsed})"
        notes = empty_notes(result.to_table().num_rows, "events", archive_dir)
        click.echo(render(result, fmt, title=title, notes=notes), nl=False)
        if chart is not None:
            from rumbo.analytics.charts import lifecycle_figure, retention_figure

            figure = retention_figure(result) if isinstance(result, Retention) else lifecycle_figure(result)
            saved = save_chart(figure, chart, title=title, data=result.to_table())
            click.echo(f"chart written to {saved}", err=True)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc
