"""What a journey may refer to beyond its own declarations: the workspace's events, segments, journeys.

Naming only known events is what catches `order_complete` for `order_completed` before launch. A journey
declares the events it uses (with property types) in its `events:` block; a workspace catalogue (a
tracking plan, or `--catalog FILE` on the command line) adds more; rumbo's own events are always known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

from rumbo.expr import Type

# Events rumbo itself produces or normalises: Segment page/screen/identify calls, and delivery outcomes.
BUILTIN_EVENTS: Final[frozenset[str]] = frozenset(
    {
        "page_viewed",
        "screen_viewed",
        "identified",
        "group",
        "alias",
        "message_sent",
        "message_delivered",
        "message_opened",
        "message_clicked",
        "message_bounced",
        "message_complained",
        "message_failed",
        "unsubscribed",
        "subscribed",
        "consent_changed",
        "journey_started",
        "journey_finished",
    }
)

TYPE_NAMES: Final[dict[str, Type]] = {
    "string": Type.STRING,
    "number": Type.NUMBER,
    "boolean": Type.BOOL,
    "object": Type.OBJECT,
    "list": Type.LIST,
    "any": Type.ANY,
}


@dataclass(frozen=True, slots=True)
class Catalog:
    """Workspace-level names a journey can use without declaring them itself."""

    events: dict[str, dict[str, Type]] = field(default_factory=dict)
    traits: dict[str, Type] = field(default_factory=dict)
    segments: frozenset[str] | None = None  # None: any segment name is accepted
    journeys: frozenset[str] | None = None  # None: any journey name is accepted for start_journey

    def merged(self, other: Catalog) -> Catalog:
        def union(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
            return None if a is None and b is None else (a or frozenset()) | (b or frozenset())

        return Catalog(
            {**self.events, **other.events},
            {**self.traits, **other.traits},
            union(self.segments, other.segments),
            union(self.journeys, other.journeys),
        )


def load_catalog(path: str | Path) -> Catalog:
    """A catalogue file: `events: {name: {properties: {p: type}}}`, `traits: {t: type}`, `segments: [..]`."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    events = {
        name: {p: TYPE_NAMES.get(str(t), Type.ANY) for p, t in ((spec or {}).get("properties") or {}).items()}
        for name, spec in (data.get("events") or {}).items()
    }
    traits = {t: TYPE_NAMES.get(str(v), Type.ANY) for t, v in (data.get("traits") or {}).items()}
    segments = frozenset(data["segments"]) if "segments" in data else None
    return Catalog(events, traits, segments)
