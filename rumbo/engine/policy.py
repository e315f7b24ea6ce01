"""The workspace's orchestration policy: what the send gate enforces above all journeys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rumbo.journey.model import QuietHours


@dataclass(frozen=True, slots=True)
class Cap:
    """At most `max` sends per sliding `per` seconds, on one channel or all (None); one cap group or all."""

    max: int
    per: float
    channel: str | None = None
    group: str | None = None


# Channels whose marketing sends need an explicit opt-in; the others need only the absence of an opt-out.
EVENING_TO_MORNING = QuietHours(21 * 60, 8 * 60)
OPT_IN_CHANNELS = frozenset({"email", "sms", "push"})
# Where each channel finds the customer's address among the traits; channels not listed need none.
ADDRESS_TRAITS = {"email": "email", "sms": "phone", "push": "push_token"}


@dataclass(frozen=True, slots=True)
class Policy:
    workspace: str = "default"
    caps: tuple[Cap, ...] = (Cap(3, 7 * 86400), Cap(1, 86400))
    quiet_hours: QuietHours | None = EVENING_TO_MORNING
    default_timezone: str | None = None  # None: UTC
    arbitration_window: float = 3600.0
    channel_order: tuple[str, ...] = ("email", "push", "sms", "inbox")  # for `channel: best`
    opt_in_channels: frozenset[str] = OPT_IN_CHANNELS
    on_cap: Literal["drop", "defer"] = "drop"
    max_deferrals: int = 8  # a send deferred this often is dropped, so a run never waits forever
    holdout: float = 0.0  # programme-wide control group share in [0, 1): entered but never contacted
    max_steps: int = 200  # instantaneous steps per input before a journey is declared runaway
    history_window: float = 400 * 86400  # longest event history kept for count()
    address_traits: dict[str, str] = field(default_factory=lambda: dict(ADDRESS_TRAITS))
    paused: frozenset[str] = frozenset()  # channels, and templates as "template:<name>", held by delivery

    @property
    def longest_cap(self) -> float:
        return max((c.per for c in self.caps), default=0.0)
