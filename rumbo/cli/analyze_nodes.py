"""`rumbo analyze nodes`: journey and node health, with the nodes to fix or retire."""

from __future__ import annotations

from pathlib import Path

import click

from rumbo.analytics.health import node_health
from rumbo.analytics.output import Format, render, save_chart
from rumbo.cli.analyze_options import common_options, empty_notes, engine_for
from rumbo.errors import RumboError


@click.command("nodes")
@click.option("--journey", default=None, help="Only this journey.")
@click.option("--version", type=int, default=None, help="Only this version of the journey.")
@click.option(
    "--min-runs",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Fewest visits a node and what it is compared with need before the node can be flagged.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level after Holm's correction.",
)
@click.option("--no-timing", is_flag=True, help="Skip the median time in node (the costly part).")
@common_options("Save the journey graph with node health as FILE.png or FILE.html.")
def nodes(
    journey: str | None,
    version: int | None,
    min_runs: int,
    alpha: float,
    no_timing: bool,
    archive_dir: Path | None,
    engine: str,
    fmt: Format,
    chart: Path | None,
) -> None:
    """Per journey version, node and variant: entered, waiting, moved on, exited, converted, time in node.

    Nodes converting significantly worse than their siblings or than the journey are flagged "fix or
    retire", with the evidence listed under the table.
    """
    try:
        health = node_health(
            engine_for(archive_dir, engine),
            journey=journey,
            version=version,
            alpha=alpha,
            min_runs=min_runs,
            timing=not no_timing,
        )
        flags = health.flags_table()
        flagged = flags.filter(flags.column("flagged")) if flags.num_rows else flags
        notes = empty_notes(health.nodes.num_rows, "journey transitions", archive_dir) or [
            f"{flagged.num_rows} flagged of {flags.num_rows} comparisons (Holm-adjusted p < {alpha}, "
            f"at least {min_runs} visits on each side)"
        ]
        sections = [("Flagged: fix or retire", flagged.drop_columns(["flagged"]))]
        if health.suppressions.num_rows:
            sections.append(("Suppressed sends", health.suppressions))
        click.echo(render(health, fmt, title="Node health", sections=sections, notes=notes), nl=False)
        if chart is not None:
            from rumbo.analytics.charts import node_graph_figure

            saved = save_chart(node_graph_figure(health), chart, title="Node health", data=health.to_table())
            click.echo(f"chart written to {saved}", err=True)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc
