"""`rumbo analyze funnel`: ordered funnels within a window."""

from __future__ import annotations

from pathlib import Path

import click

from rumbo.analytics.funnels import funnel as compute_funnel
from rumbo.analytics.output import Format, render, save_chart
from rumbo.cli.analyze_options import common_options, empty_notes, engine_for
from rumbo.durations import parse_duration
from rumbo.errors import RumboError


@click.command("funnel")
@click.argument("steps", nargs=-1, required=True)
@click.option("--within", default="7d", show_default=True, help="Window from the first step, e.g. 36h, 7d.")
@click.option(
    "--by", default=None, help="Split by 'channel' or 'properties.<key>' of the first step's event."
)
@common_options("Save the funnel bars as FILE.png or FILE.html.")
def funnel(
    steps: tuple[str, ...],
    within: str,
    by: str | None,
    archive_dir: Path | None,
    engine: str,
    fmt: Format,
    chart: Path | None,
) -> None:
    """Customers who did STEP, then the next STEP, ... within the window of their first step."""
    try:
        result = compute_funnel(
            engine_for(archive_dir, engine), list(steps), within=parse_duration(within), by=by
        )
        title = f"Funnel within {within}" + (f" by {by}" if by else "")
        notes = empty_notes(result.table.num_rows, f"{steps[0]!r} events", archive_dir)
        click.echo(render(result, fmt, title=title, notes=notes), nl=False)
        if chart is not None:
            from rumbo.analytics.charts import funnel_figure

            saved = save_chart(funnel_figure(result), chart, title=title, data=result.to_table())
            click.echo(f"chart written to {saved}", err=True)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc
