"""`rumbo analyze …`: what worked — node health, experiments, funnels, paths, attribution, CLV."""

from __future__ import annotations

import click


@click.group()
def analyze() -> None:
    """Analyses over the archive of events, transitions and deliveries."""


from rumbo.cli.analyze_clv import clv  # noqa: E402  (commands are registered at the end)

analyze.add_command(clv)

from rumbo.cli.analyze_experiment import experiment  # noqa: E402

analyze.add_command(experiment)

from rumbo.cli.analyze_attribution import attribution  # noqa: E402

analyze.add_command(attribution)
