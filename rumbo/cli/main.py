"""Entry point of the `rumbo` command: one click group, each subject in its own module."""

from __future__ import annotations

import click

from rumbo import __version__
from rumbo.cli.analyze import analyze
from rumbo.cli.archive import archive
from rumbo.cli.backtest import backtest
from rumbo.cli.demo import demo
from rumbo.cli.journey import journey
from rumbo.cli.ops import db, deadletters, profile
from rumbo.cli.relay import relay
from rumbo.cli.serve import serve
from rumbo.cli.simulate import simulate_group
from rumbo.cli.workspace import workspace
from rumbo.tuning import tune_gc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rumbo")
def main() -> None:
    """rumbo: customer journey orchestration."""
    tune_gc()


main.add_command(demo)
main.add_command(journey)
main.add_command(analyze)
main.add_command(serve)
main.add_command(db)
main.add_command(profile)
main.add_command(deadletters)
main.add_command(simulate_group, "simulate")
main.add_command(backtest)
main.add_command(workspace)
main.add_command(relay)
main.add_command(archive)
