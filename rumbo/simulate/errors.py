"""Errors of the simulation layer: bad history, bad model files, bad settings."""

from __future__ import annotations

from rumbo.errors import RumboError


class SimulationError(RumboError):
    """A simulation, fit or backtest could not run on the input given; the message says what to change."""
