"""`rumbo analyze attribution`: which channels, campaigns, journeys or nodes led to conversions."""

from __future__ import annotations

from pathlib import Path

import click

from rumbo.analytics.attribution.analysis import MODELS, attribute, attribution_figure
from rumbo.analytics.attribution.markov import MAX_ORDER
from rumbo.analytics.attribution.touchpoints import BY
from rumbo.analytics.output import Format, render, save_chart
from rumbo.cli.analyze_options import common_options, engine_for
from rumbo.durations import parse_duration
from rumbo.errors import RumboError


@click.command("attribution")
@common_options("Save attribution per key as FILE.png or FILE.html.")
@click.option("--model", type=click.Choice(MODELS), default="markov", show_default=True)
@click.option(
    "--order",
    type=click.IntRange(1, MAX_ORDER),
    default=1,
    show_default=True,
    help="Markov chain order: how many past touchpoints a state remembers.",
)
@click.option(
    "--by", type=click.Choice(BY), default="channel", show_default=True, help="What gets the credit."
)
@click.option(
    "--window", default="30d", show_default=True, help="Conversion window: how far back touchpoints count."
)
@click.option("--half-life", default="7d", show_default=True, help="Half-life of the time_decay model.")
@click.option(
    "--conversion-event",
    default=None,
    help="Count this event (valued by its revenue, value or total property) as the conversion, "
    "instead of the journeys' conversion records.",
)
@click.option("--goal", default=None, help="Only conversion records of this goal.")
@click.option(
    "--keep-repeats",
    is_flag=True,
    help="Keep consecutive touchpoints of the same key as separate touches (default: merge them).",
)
def attribution(
    archive_dir: Path | None,
    engine: str,
    model: str,
    order: int,
    by: str,
    window: str,
    half_life: str,
    conversion_event: str | None,
    goal: str | None,
    keep_repeats: bool,
    fmt: Format,
    chart: Path | None,
) -> None:
    """Multi-touch attribution: credit each channel (or campaign, journey, node) for the conversions.

    Models: first, last, linear, time_decay and position (40/20/40) by rule; markov (an absorbing Markov
    chain of --order 1 to 3, removal effects solved exactly) and shapley (exact Shapley values of the
    coalitions' conversion rates) from the data.
    """
    try:
        result = attribute(
            engine_for(archive_dir, engine),
            model,
            by=by,
            window=parse_duration(window),
            order=order,
            half_life=parse_duration(half_life),
            conversion_event=conversion_event,
            goal=goal,
            keep_repeats=keep_repeats,
        )
        title = f"Attribution by {by} ({model}{f', order {order}' if model == 'markov' else ''})"
        click.echo(render(result, fmt, title=title, notes=result.notes()), nl=False)
        if chart is not None:
            saved = save_chart(attribution_figure(result), chart, title=title, data=result.to_table())
            click.echo(f"chart written to {saved}", err=True)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc
