"""`rumbo demo`: the whole platform on a synthetic customer base, in a few minutes."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console

from rumbo.demo.run import print_summary, run_demo


@click.command()
@click.option("--customers", default=10_000, show_default=True, help="Size of the synthetic population.")
@click.option("--days", default=90, show_default=True, help="Days of behaviour to generate and run.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same population, same results.")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory for the demo [default: $RUMBO_HOME/demo, RUMBO_HOME defaulting to ./rumbo-data]",
)
def demo(customers: int, days: int, seed: int, home: Path | None) -> None:
    """Generate customers with 90 days of multi-channel behaviour, run the example journeys over them on
    virtual time, archive every record, and summarise what happened."""
    if customers < 1 or days < 1:
        raise click.BadParameter("--customers and --days must be at least 1")
    target = home or Path(os.environ.get("RUMBO_HOME", "rumbo-data")) / "demo"
    console = Console(width=max(Console().width, 110))  # the summary tables need the room, even when piped
    print_summary(run_demo(target, customers, days, seed, console), console)
