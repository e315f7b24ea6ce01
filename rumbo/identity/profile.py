"""A profile's own data as a history of changes, so that two profiles merge without losing anything.

Traits and consent are kept as every change with its time and source, not only as current values. The
current value of a trait, or of consent on a channel or topic, is the latest change (by the time of the
change, not the time it reached rumbo); equal times are settled by source and then by value, so that the
answer never depends on which profile survived. Merging two profiles is the union of their histories:
it is commutative and associative, and every change stays on the surviving profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson


def _canonical(value: Any) -> str:
    """A total order for values of any JSON type, used only to settle changes made at the same time."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return repr(value)


@dataclass(frozen=True, slots=True)
class TraitChange:
    """Trait `name` was set to `value` (None: cleared) at `at` by `source` (a messageId, an import...)."""

    name: str
    value: Any
    at: float
    source: str = ""

    @property
    def order(self) -> tuple[float, str, str, str]:
        """Later wins; the name keeps a history's order the same whichever profile it came from."""
        return (self.at, self.source, self.name, _canonical(self.value))


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """Consent for `channel` (and `topic`, if given) was granted or withdrawn at `at` through `source`."""

    channel: str
    granted: bool
    at: float
    source: str = ""
    topic: str | None = None

    @property
    def scope(self) -> str:
        """The key the engine reads consent by: ``email`` or ``email.newsletter``."""
        return f"{self.channel}.{self.topic}" if self.topic else self.channel

    @property
    def order(self) -> tuple[float, str, str, bool]:
        return (self.at, self.source, self.scope, self.granted)


@dataclass(frozen=True, slots=True)
class Profile:
    """One customer's traits and consent, as histories kept in order of change."""

    customer: str
    trait_changes: tuple[TraitChange, ...] = ()
    consent_changes: tuple[ConsentChange, ...] = field(default_factory=tuple)

    @property
    def traits(self) -> dict[str, Any]:
        """Current traits: the latest change of each (a trait cleared last is absent)."""
        latest: dict[str, TraitChange] = {}
        for change in self.trait_changes:
            seen = latest.get(change.name)
            if seen is None or change.order >= seen.order:
                latest[change.name] = change
        return {name: c.value for name, c in sorted(latest.items()) if c.value is not None}

    @property
    def consent(self) -> dict[str, bool]:
        """Current consent per scope, as the engine reads it."""
        return {scope: c.granted for scope, c in self.consent_states().items()}

    def consent_states(self) -> dict[str, ConsentChange]:
        """The change in force for each scope, with its source and time (for the 360 view and audits)."""
        latest: dict[str, ConsentChange] = {}
        for change in self.consent_changes:
            seen = latest.get(change.scope)
            if seen is None or change.order >= seen.order:
                latest[change.scope] = change
        return dict(sorted(latest.items()))

    def with_traits(self, changes: Iterable[TraitChange]) -> Profile:
        return Profile(self.customer, _ordered(self.trait_changes, changes), self.consent_changes)

    def with_consent(self, changes: Iterable[ConsentChange]) -> Profile:
        return Profile(self.customer, self.trait_changes, _ordered(self.consent_changes, changes))

    def set_traits(self, traits: Mapping[str, Any], at: float, source: str = "") -> Profile:
        """The profile after an identify that set `traits` at `at`."""
        return self.with_traits(TraitChange(name, value, at, source) for name, value in traits.items())


def _ordered(old: Iterable[Any], new: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted((*old, *new), key=lambda c: c.order))


def merge_profiles(survivor: Profile, merged: Profile) -> Profile:
    """`survivor` holding both histories: latest change wins for each trait and each consent scope.

    Nothing is dropped: a change that lost to a later one stays in the history, so a profile view can show
    what the merged profile used to say, and a later merge still decides by time.
    """
    return Profile(
        survivor.customer,
        _ordered(survivor.trait_changes, merged.trait_changes),
        _ordered(survivor.consent_changes, merged.consent_changes),
    )
