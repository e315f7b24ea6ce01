"""`rumbo analyze experiment`: every split's arms, their lift over the holdout, and whether to trust it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from rumbo.analytics.experiments import (
    ExperimentResult,
    Weights,
    analyse_experiments,
    parse_weights,
    weights_from_journeys,
    windows_from_journeys,
)
from rumbo.analytics.output import Format, render, save_chart
from rumbo.cli.analyze_options import common_options, engine_for
from rumbo.durations import parse_duration
from rumbo.errors import RumboError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@click.command("experiment")
@common_options("Save conversion rate per arm, with intervals, as FILE.png or FILE.html.")
@click.option("--journey", default=None, help="Only this journey's splits.")
@click.option("--node", default=None, help="Only this split node.")
@click.option("--goal", default=None, help="Count only conversions to this goal [default: any goal].")
@click.option(
    "--journey-file",
    "journey_files",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Journey file (or folder) with split weights (for the SRM check) and goal windows; repeatable.",
)
@click.option(
    "--window",
    default=None,
    metavar="DURATION",
    help="Conversion window of --journey, e.g. 14d, for the always-valid test [default: the goal's `within` "
    "from --journey-file, else the longest delay to conversion observed].",
)
@click.option(
    "--weights",
    default=None,
    metavar="A=45,B=45,holdout=10",
    help="Configured split weights for the SRM check (needs --journey and --node).",
)
@click.option("--control", default=None, help="Arm to compare with when a split has no holdout.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level.")
@click.option(
    "--mde",
    type=float,
    default=0.1,
    show_default=True,
    help="Relative minimum effect to plan the fixed-horizon sample size for (0.1 = +10%).",
)
@click.option("--power", type=float, default=0.8, show_default=True, help="Power of the planned sample size.")
@click.option(
    "--tau",
    type=float,
    default=None,
    help="mSPRT mixing scale, an absolute difference in rate [default: mde × the split's pooled rate].",
)
def experiment(
    archive_dir: Path | None,
    engine: str,
    journey: str | None,
    node: str | None,
    goal: str | None,
    journey_files: tuple[Path, ...],
    weights: str | None,
    window: str | None,
    control: str | None,
    alpha: float,
    mde: float,
    power: float,
    tau: float | None,
    fmt: Format,
    chart: Path | None,
) -> None:
    """A/B tests and holdouts: conversion per variant of every split node and the lift over the control.

    Shows the fixed-horizon z-test (read it once, at the planned sample size) and the always-valid mSPRT
    (read it every day), a sample-ratio-mismatch check against the configured weights, and the uplift of
    each journey and of the whole programme against its holdouts.
    """
    try:
        configured = _weights(journey_files, weights, journey, node)
        windows = windows_from_journeys([str(p) for p in journey_files]) if journey_files else {}
        if window is not None:
            if journey is None:
                raise click.UsageError("--window applies to one journey: give --journey with it")
            windows[journey] = parse_duration(window)
        result = analyse_experiments(
            engine_for(archive_dir, engine),
            journey=journey,
            node=node,
            goal=goal,
            weights=configured,
            control=control,
            alpha=alpha,
            mde=mde,
            power=power,
            tau=tau,
            windows=windows,
        )
        click.echo(
            render(
                result,
                fmt,
                title="Experiments: arms against the control",
                sections=[("Uplift against the holdouts", result.uplift_table())],
                notes=result.notes(),
            ),
            nl=False,
        )
        if chart is not None:
            saved = save_chart(_figure(result), chart, title="Experiments", data=result.to_table())
            click.echo(f"chart written to {saved}", err=True)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc


def _weights(
    journey_files: tuple[Path, ...], weights: str | None, journey: str | None, node: str | None
) -> Weights | None:
    configured: dict[tuple[str, str], dict[str, float]] = {}
    if journey_files:
        configured.update(weights_from_journeys([str(p) for p in journey_files]))
    if weights is not None:
        if journey is None or node is None:
            raise click.UsageError("--weights applies to one split: give --journey and --node with it")
        configured[(journey, node)] = parse_weights(weights)
    return configured or None


def _figure(result: ExperimentResult) -> Figure:
    """Conversion rate per arm of each split, with a 95% Wald interval clustered by customer, the control in
    grey."""
    from matplotlib.figure import Figure

    rows = [(split, arm) for split in result.splits for arm in split.arms]
    figure = Figure(figsize=(8, max(2.5, 0.45 * len(rows) + 1)))
    axes = figure.subplots()
    labels, rates, errors, colours = [], [], [], []
    for split, arm in rows:
        p = arm.rate
        half = 1.96 * (arm.design_effect * p * (1 - p) / arm.runs) ** 0.5 if arm.runs else 0.0
        labels.append(f"{split.journey}/{split.node}: {arm.variant}")
        rates.append(p)
        errors.append(half)
        colours.append("#9e9e9e" if arm.variant == split.control else "#1f77b4")
    positions = list(range(len(rows)))[::-1]
    axes.barh(positions, rates, xerr=errors, color=colours, capsize=3)
    axes.set_yticks(positions, labels)
    axes.set_xlabel("conversion rate (95% interval)")
    axes.set_title("Conversion per arm (grey: control)")
    return figure
