"""Entry point of the `rumbo` command: one click group, each subject in its own module, imported when used."""

from __future__ import annotations

import click

from rumbo import __version__
from rumbo.cli.lazy import LazyGroup
from rumbo.tuning import tune_gc

SUBCOMMANDS = {
    "demo": "rumbo.cli.demo:demo",
    "journey": "rumbo.cli.journey:journey",
    "analyze": "rumbo.cli.analyze:analyze",
    "serve": "rumbo.cli.serve:serve",
    "db": "rumbo.cli.ops:db",
    "profile": "rumbo.cli.ops:profile",
    "deadletters": "rumbo.cli.ops:deadletters",
    "import": "rumbo.cli.import_cmd:import_file",
    "simulate": "rumbo.cli.simulate:simulate_group",
    "backtest": "rumbo.cli.backtest:backtest",
    "workspace": "rumbo.cli.workspace:workspace",
    "relay": "rumbo.cli.relay:relay",
    "archive": "rumbo.cli.archive:archive",
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=SUBCOMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="rumbo")
def main() -> None:
    """rumbo: customer journey orchestration."""
    tune_gc()
