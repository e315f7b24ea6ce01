"""What can happen to a customer: the engine's inputs. Each has a stable `id` (for idempotency keys).

Inputs are named tuples: immutable values like frozen dataclasses, but built by one C call. The runtime
and the simulator make one for every event and timer, and a frozen dataclass's field-by-field
`object.__setattr__` cost more than a quarter of a simple engine step.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

# Segment call types become event names so that journeys can listen to them like any track event.
TYPE_EVENT_NAMES: dict[str, str] = {
    "page": "page_viewed",
    "screen": "screen_viewed",
    "identify": "identified",
    "group": "group",
    "alias": "alias",
}

_NOTHING: Final[Mapping[str, Any]] = MappingProxyType({})


class EventInput(NamedTuple):
    """A Segment-shaped event that has been resolved to this customer."""

    id: str  # messageId
    name: str
    at: float  # event time, epoch seconds
    event: Mapping[str, Any] = _NOTHING

    @classmethod
    def from_segment(cls, message: Mapping[str, Any], at: float) -> EventInput:
        """From a Segment message (`type`, `event`, `properties`, `traits`, `context`, `messageId`)."""
        kind = message.get("type", "track")
        name = message.get("event") if kind == "track" else TYPE_EVENT_NAMES.get(kind, kind)
        if not isinstance(name, str) or not name:
            raise ValueError("a track event needs a non-empty `event` name")
        return cls(str(message.get("messageId", "")), name, at, message)


class TimerFired(NamedTuple):
    """A timer the engine scheduled fell due."""

    run: str
    token: int

    @property
    def id(self) -> str:
        return f"timer:{self.run}:{self.token}"


class SegmentChange(NamedTuple):
    """The customer entered or left a segment."""

    segment: str
    entered: bool
    id: str


class ApiStart(NamedTuple):
    """Start a journey for this customer by API call (or from another journey's emit)."""

    journey: str
    id: str
    data: Mapping[str, Any] = _NOTHING


class ScheduleTick(NamedTuple):
    """A scheduled entry of a journey fired; the runtime delivers it to each customer of the audience."""

    journey: str
    id: str


class Migrate(NamedTuple):
    """Move this customer's runs of `journey` to the published version `to_version`; with mode "stop" and
    `to_version` 0 (no version is 0), end every run of the journey."""

    journey: str
    to_version: int
    id: str
    mode: Literal["migrate", "stop"] = "migrate"
    mapping: Mapping[str, str] = MappingProxyType({})  # old node -> new node; default same id


Input = EventInput | TimerFired | SegmentChange | ApiStart | ScheduleTick | Migrate
