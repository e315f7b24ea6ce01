"""The demo's one error."""

from __future__ import annotations

from rumbo.errors import RumboError


class DemoError(RumboError):
    """The demo could not go on: a local server did not start, or an answer was not what rumbo promises."""
