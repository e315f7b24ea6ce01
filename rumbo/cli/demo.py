"""`rumbo demo`: the whole platform on a synthetic customer base, in a few minutes."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console

from rumbo.demo.errors import DemoError
from rumbo.demo.run import run_demo
from rumbo.demo.summary import print_summary


@click.command()
@click.option("--customers", default=10_000, show_default=True, help="Size of the synthetic population.")
@click.option("--days", default=90, show_default=True, help="Days of behaviour to generate and run.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same population, same results.")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory for the demo, emptied first [default: $RUMBO_HOME/demo, RUMBO_HOME defaulting to "
    "./rumbo-data]",
)
def demo(customers: int, days: int, seed: int, home: Path | None) -> None:
    """Run the whole platform on a synthetic customer base: a fresh workspace with the example journeys,
    customers with 90 days of multi-channel behaviour sent through the HTTP API, the journeys run on
    accelerated time, messages delivered to a local SMTP server and to files, every record archived, and a
    summary of what happened."""
    if customers < 1 or days < 1:
        raise click.BadParameter("--customers and --days must be at least 1")
    target = home or Path(os.environ.get("RUMBO_HOME", "rumbo-data")) / "demo"
    console = Console(width=max(Console().width, 110))  # the summary tables need the room, even when piped
    try:
        result = run_demo(target.absolute(), customers, days, seed, console)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    print_summary(result, console)
