"""`rumbo simulate`: try journeys on a model of real customers before launch; `rumbo simulate fit` learns
that model from history and says how well it fits."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import orjson
import yaml
from rich.console import Console

from rumbo.analytics.archive import default_archive_path
from rumbo.analytics.output import json_ready, save_chart
from rumbo.durations import parse_duration
from rumbo.errors import DurationInvalid, JourneyInvalid, RumboError
from rumbo.journey.load import load_journey, load_journeys
from rumbo.journey.model import Journey
from rumbo.simulate.charts import simulation_figure, simulation_table
from rumbo.simulate.compare import compare_reports, simulate
from rumbo.simulate.fitreport import fit_report
from rumbo.simulate.history import History, from_archive, from_files
from rumbo.simulate.learn import fit_model
from rumbo.simulate.model import BehaviourModel
from rumbo.simulate.simulator import DEFAULT_COSTS, Settings
from rumbo.simulate.tables import print_comparison, print_fit, print_simulation

ARCHIVE_HELP = "Learn from this archive folder [default: $RUMBO_HOME/archive]."
EVENTS_HELP = "Learn from JSON-lines event files instead of an archive (repeatable)."


class _RunByDefault(click.Group):
    """`rumbo simulate JOURNEY.yaml ...` means `rumbo simulate run JOURNEY.yaml ...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _console() -> Console:
    return Console(width=max(Console().width, 120))


def history_from(archive_dir: Path | None, events: Sequence[Path]) -> History:
    """The history the options name: event files, else the archive folder, else the default archive."""
    if events:
        return from_files(events)
    return from_archive(archive_dir if archive_dir is not None else default_archive_path())


def _journey(path: Path) -> Journey:
    try:
        return load_journey(path)
    except JourneyInvalid as exc:
        raise click.ClickException(str(exc)) from exc


def _costs(path: Path | None) -> dict[str, float]:
    costs = dict(DEFAULT_COSTS)
    if path is None:
        return costs
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{path}: cannot read the costs ({exc})") from exc
    if not isinstance(data, dict):
        raise click.ClickException(
            f"{path}: costs must be a mapping of channel to cost per send, e.g. `sms: 0.04`"
        )
    for channel, cost in data.items():
        if isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0:
            raise click.ClickException(
                f"{path}: {channel}: {cost!r} is not a cost — give a number of at least 0 per send"
            )
        costs[str(channel)] = float(cost)
    return costs


def _duration(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except DurationInvalid as exc:
        raise click.ClickException(f"{option}: {exc}") from exc


@click.group(cls=_RunByDefault)
def simulate_group() -> None:
    """Simulate journeys on a behaviour model learned from history (`rumbo simulate JOURNEY.yaml ...` runs
    `rumbo simulate run`), or learn and check that model (`rumbo simulate fit`)."""


def _model_options(command: Any) -> Any:
    for option in reversed(
        (
            click.option(
                "--archive",
                "archive_dir",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                help=ARCHIVE_HELP,
            ),
            click.option(
                "--events", type=click.Path(dir_okay=False, path_type=Path), multiple=True, help=EVENTS_HELP
            ),
            click.option(
                "--conversion",
                default="order_completed",
                show_default=True,
                help="The event that counts as converting.",
            ),
            click.option(
                "--segment-by",
                default="segment",
                show_default=True,
                help="The identify trait that names a customer's segment.",
            ),
            click.option(
                "--window",
                default="3d",
                show_default=True,
                help="How long after a send a conversion is credited to it.",
            ),
        )
    ):
        command = option(command)
    return command


@simulate_group.command("run")
@click.argument(
    "journey_file", metavar="JOURNEY.yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--with-live",
    "live_dirs",
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    help="Folder (or file) of live journeys to run alongside, so caps, quiet hours and arbitration act.",
)
@click.option("--customers", default=1000, show_default=True, help="Synthetic customers per run.")
@click.option("--days", default=30.0, show_default=True, help="Days of virtual time per run.")
@click.option(
    "--runs", default=5, show_default=True, help="Runs, each with its own seed; intervals come from them."
)
@click.option("--seed", default=1, show_default=True, help="Same seed, same results.")
@click.option("--holdout", default=0.1, show_default=True, help="Share of customers the draft never meets.")
@click.option(
    "--model",
    "model_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A model saved by `rumbo simulate fit` (instead of learning one now).",
)
@_model_options
@click.option(
    "--compare",
    "compare_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A second draft: which of the two is expected to win, and how sure.",
)
@click.option(
    "--costs",
    "costs_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML or JSON mapping channel to cost per send.",
)
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the flow, conversions and messages charts to a .png or .html file.",
)
def run(
    journey_file: Path,
    live_dirs: tuple[Path, ...],
    customers: int,
    days: float,
    runs: int,
    seed: int,
    holdout: float,
    model_file: Path | None,
    archive_dir: Path | None,
    events: tuple[Path, ...],
    conversion: str,
    segment_by: str,
    window: str,
    compare_file: Path | None,
    costs_file: Path | None,
    fmt: str,
    chart: Path | None,
) -> None:
    """Run JOURNEY.yaml through the real engine over synthetic customers on virtual time, R runs, and
    report per-node volumes, conversions, sends, held-back sends, collisions, costs and uplift."""
    if chart is not None and chart.suffix.lower() not in (".png", ".html"):
        raise click.ClickException(f"--chart {chart}: charts are saved as .png or .html — change the suffix")
    draft = _journey(journey_file)
    try:
        live = load_journeys(live_dirs) if live_dirs else []
    except JourneyInvalid as exc:
        raise click.ClickException(str(exc)) from exc
    settings = Settings(customers, days, runs, seed, holdout, costs=_costs(costs_file))
    try:
        settings.check()  # before learning a model, which can take a while
        if model_file is not None:
            model = BehaviourModel.load(model_file)
        else:
            history = history_from(archive_dir, events)
            model = fit_model(history, conversion, segment_by, _duration(window, "--window"))
        report = simulate(model, [draft], live, settings)
        other = None
        if compare_file is not None:
            second = _journey(compare_file)
            other = simulate(model, [second], [j for j in live if j.id != draft.id], settings)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc
    comparison = (
        compare_reports(report, other, journey_file.name, compare_file.name)
        if other is not None and compare_file is not None
        else None
    )
    if chart is not None:
        save_chart(
            simulation_figure(report), chart, title=f"Simulation of {draft.id}", data=simulation_table(report)
        )
    if fmt == "json":
        out: dict[str, Any] = report.to_dict()
        if other is not None and comparison is not None:
            out = {"a": out, "b": other.to_dict(), "comparison": comparison.to_dict()}
        click.echo(orjson.dumps(json_ready(out), option=orjson.OPT_INDENT_2).decode())
        return
    console = _console()
    print_simulation(report, console)
    if other is not None and comparison is not None:
        console.print()
        print_simulation(other, console)
        console.print()
        print_comparison(comparison, console)
    if chart is not None:
        console.print(f"chart written to {chart}")


@simulate_group.command("fit")
@_model_options
@click.option(
    "--with-live",
    "live_dirs",
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    help="The journeys that ran during the history, so the fit check replays their messages' effect.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("rumbo-model.json"),
    show_default=True,
    help="Where to save the model (JSON).",
)
@click.option(
    "--held-out", default=0.3, show_default=True, help="Share of the history's span kept to check the fit."
)
@click.option("--runs", default=5, show_default=True, help="Simulation runs behind the predicted figures.")
@click.option("--seed", default=1, show_default=True, help="Same seed, same results.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
def fit(
    archive_dir: Path | None,
    events: tuple[Path, ...],
    conversion: str,
    segment_by: str,
    window: str,
    live_dirs: tuple[Path, ...],
    out: Path,
    held_out: float,
    runs: int,
    seed: int,
    fmt: str,
) -> None:
    """Learn the behaviour model from an archive or event files, save it as JSON, and report how well a model
    learned on the earlier part of the history predicts the held-out later part."""
    seconds = _duration(window, "--window")
    try:
        history = history_from(archive_dir, events)
        model = fit_model(history, conversion, segment_by, seconds)
        live = load_journeys(live_dirs) if live_dirs else []
        report = fit_report(history, conversion, segment_by, seconds, held_out, runs, seed, live)
    except (JourneyInvalid, RumboError) as exc:
        raise click.ClickException(str(exc)) from exc
    model.save(out)
    if fmt == "json":
        payload = {"model": str(out), "segments": sorted(model.segments), "fit": report.to_dict()}
        click.echo(orjson.dumps(json_ready(payload), option=orjson.OPT_INDENT_2).decode())
        return
    console = _console()
    console.print(
        f"model of {len(model.segments)} segment(s) ({', '.join(sorted(model.segments))}) "
        f"from {model.events:,} events saved to {out}"
    )
    print_fit(report, console)
