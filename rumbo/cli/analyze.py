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

from rumbo.cli.analyze_nodes import nodes  # noqa: E402

analyze.add_command(nodes)

from rumbo.cli.analyze_funnel import funnel  # noqa: E402

analyze.add_command(funnel)

from rumbo.cli.analyze_paths import paths  # noqa: E402

analyze.add_command(paths)

from rumbo.cli.analyze_lifecycle import lifecycle_command  # noqa: E402

analyze.add_command(lifecycle_command)

from rumbo.cli.analyze_import import import_file  # noqa: E402

analyze.add_command(import_file)
