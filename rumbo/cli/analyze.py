"""`rumbo analyze …`: what worked — node health, experiments, funnels, paths, attribution, CLV."""

from __future__ import annotations

import click


@click.group()
def analyze() -> None:
    """Analyses over the archive of events, transitions and deliveries."""
