"""`rumbo backtest`: replay recorded history through a draft journey; nothing is sent."""

from __future__ import annotations

from pathlib import Path

import click
import orjson
from rich.console import Console

from rumbo.analytics.output import json_ready
from rumbo.cli.simulate import history_from
from rumbo.durations import parse_duration
from rumbo.errors import DurationInvalid, JourneyInvalid, RumboError
from rumbo.journey.load import load_journey
from rumbo.simulate.backtest import backtest as run_backtest
from rumbo.simulate.backtest import parse_day
from rumbo.simulate.tables import print_backtest


@click.command("backtest")
@click.argument(
    "journey_file", metavar="JOURNEY.yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--from", "start", required=True, help="First day replayed (YYYY-MM-DD or ISO date-time, UTC).")
@click.option("--to", "end", required=True, help="Replay up to this moment, excluded.")
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Archive folder holding the history [default: $RUMBO_HOME/archive].",
)
@click.option(
    "--events",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="JSON-lines event files holding the history instead (repeatable).",
)
@click.option(
    "--window",
    default="1d",
    show_default=True,
    help="A counterfactual send collides with an actual delivery this close in time.",
)
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def backtest(
    journey_file: Path,
    start: str,
    end: str,
    archive_dir: Path | None,
    events: tuple[Path, ...],
    window: str,
    fmt: str,
) -> None:
    """Replay the recorded history between --from and --to through JOURNEY.yaml on virtual time: who would
    have entered, what they would have been sent (counterfactual: nothing is sent) and where that collides
    with what actually ran."""
    if archive_dir is not None and events:
        raise click.ClickException("give either --archive or --events, not both")
    try:
        draft = load_journey(journey_file)
        seconds = parse_duration(window)
        history = history_from(archive_dir, events)
        report = run_backtest(
            draft, history, parse_day(start, "--from"), parse_day(end, "--to"), window=seconds
        )
    except (JourneyInvalid, DurationInvalid, RumboError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(orjson.dumps(json_ready(report.to_dict()), option=orjson.OPT_INDENT_2).decode())
        return
    print_backtest(report, Console(width=max(Console().width, 120)))
