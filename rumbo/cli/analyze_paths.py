"""`rumbo analyze paths`: common event paths between two events, and Sankey flows."""

from __future__ import annotations

from pathlib import Path

import click

from rumbo.analytics.output import Format, render, save_chart
from rumbo.analytics.paths import Flows, Paths, event_flows, event_paths, journey_flows
from rumbo.cli.analyze_options import common_options, empty_notes, engine_for
from rumbo.errors import RumboError


@click.command("paths")
@click.option("--from", "start", default=None, help="The event paths start at (first one per customer).")
@click.option("--to", "end", default=None, help="The event paths end at (first one after the start).")
@click.option("--max-steps", type=click.IntRange(2), default=None, help="Longest path shown [6; Sankey 4].")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="How many paths.")
@click.option("--sankey", is_flag=True, help="Flows (source, target, count) instead of whole paths.")
@click.option("--journey", default=None, help="With --sankey: flows of this journey's transitions.")
@click.option("--version", type=int, default=None, help="With --journey: only this version.")
@click.option(
    "--top-events",
    type=click.IntRange(1),
    default=8,
    show_default=True,
    help="With --sankey over events: events per step before the rest become (other).",
)
@common_options("With --sankey: save the Sankey diagram as FILE.png or FILE.html.")
def paths(
    start: str | None,
    end: str | None,
    max_steps: int | None,
    top: int,
    sankey: bool,
    journey: str | None,
    version: int | None,
    top_events: int,
    archive_dir: Path | None,
    engine: str,
    fmt: Format,
    chart: Path | None,
) -> None:
    """The most common event paths --from one event --to another, or --sankey flows."""
    try:
        query_engine = engine_for(archive_dir, engine)
        result: Paths | Flows
        if sankey:
            if journey is not None:
                result = journey_flows(query_engine, journey=journey, version=version)
            else:
                result = event_flows(
                    query_engine, start=start, max_steps=max_steps or 4, top_events=top_events
                )
            title = f"Flows: {result.origin}"
        else:
            if start is None or end is None:
                raise click.UsageError("give --from EVENT and --to EVENT, or --sankey")
            if chart is not None:
                raise click.UsageError("--chart draws the Sankey diagram: add --sankey")
            result = event_paths(query_engine, start, end, max_steps=max_steps or 6, top=top)
            title = f"Paths from {start} to {end} ({result.customers:,} customers)"
        notes = empty_notes(
            result.to_table().num_rows, "events" if journey is None else "transitions", archive_dir
        )
        click.echo(render(result, fmt, title=title, notes=notes), nl=False)
        if chart is not None and isinstance(result, Flows):
            from rumbo.analytics.charts import sankey_figure

            saved = save_chart(sankey_figure(result), chart, title=title, data=result.to_table())
            click.echo(f"chart written to {saved}", err=True)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc
