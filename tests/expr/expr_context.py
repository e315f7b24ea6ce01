"""A small EvalContext for the predicate tests: fixed data, and a record of the aggregate calls made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# 2026-11-23T00:00:00Z, a Monday.
NOW = 1795392000.0


@dataclass
class Ctx:
    event: Mapping[str, Any] | None = None
    traits: Mapping[str, Any] = field(default_factory=dict)
    consent: Mapping[str, bool] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    now: float = NOW
    timezone: str | None = None
    # Event times per name, for count(); the last event per name, for last().
    history: dict[str, list[float]] = field(default_factory=dict)
    latest: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, float | None]] = field(default_factory=list)

    def count(self, event: str, since: float | None) -> int:
        self.calls.append(("count", event, since))
        times = self.history.get(event, [])
        return sum(1 for t in times if since is None or t >= since)

    def last(self, event: str) -> Mapping[str, Any] | None:
        self.calls.append(("last", event, None))
        return self.latest.get(event)


def with_properties(**properties: Any) -> Ctx:
    """A context whose triggering event carries these properties."""
    return Ctx(event={"type": "track", "event": "cart_abandoned", "properties": properties})
