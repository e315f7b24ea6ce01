"""Segment membership: a workspace's segment rules, compiled once per catalogue revision, and what they say
about one customer now.

A segment's rule is a predicate over the profile and the kept event aggregates, with no triggering event
(docs/predicates.md). After every step, `affected` says which rules the step may have changed the answer
of: all of them when the profile (traits, consent, tags, memberships) changed, only those counting the
event when an event's aggregates did (most events touch one or two rules, if any). The worker asks
`first_change` about those and hands the answer to the engine as a SegmentChange, one change at a time:
each change is applied before every rule is asked again, so a rule over another segment
(`in_segment('vip')`) sees memberships as they now are, and the order never depends on how the rules
happen to be listed. Memberships of segments that no longer exist are left.

The engine keeps the aggregates the rules need only if it is told to: `needs` goes to the Engine.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rumbo.engine.state import Customer
from rumbo.errors import ExpressionError
from rumbo.expr import AggregateNeed, Predicate, Scope, compile_predicate
from rumbo.store.catalog import SegmentDefinition

log = logging.getLogger("rumbo.segments")

# A rule reads the customer, never an event.
_SCOPE = Scope(has_event=False)


@dataclass(frozen=True, slots=True)
class SegmentRule:
    name: str
    source: str  # the rule as written: a new text means every customer must be judged again
    predicate: Predicate
    refresh: float | None  # seconds between re-evaluations of every customer; None: on change only


class _Profile:
    """The EvalContext a rule reads: one customer at one instant, with no triggering event."""

    __slots__ = ("_customer", "consent", "now", "segments", "tags", "timezone", "traits")
    event: Mapping[str, Any] | None = None

    def __init__(self, customer: Customer, now: float, timezone: str | None) -> None:
        self._customer = customer
        self.traits = customer.traits
        self.consent = customer.consent
        self.tags = customer.tags
        self.segments = customer.segments
        self.now = now
        self.timezone = customer.timezone or timezone

    def count(self, event: str, since: float | None) -> int:
        times = self._customer.counts.get(event, ())
        return len(times) if since is None else len(times) - bisect.bisect_left(times, since)

    def last(self, event: str) -> Mapping[str, Any] | None:
        return self._customer.last.get(event)


class SegmentRules:
    """The compiled segments of one workspace, by name."""

    def __init__(self, rules: Iterable[SegmentRule] = ()) -> None:
        self.rules = tuple(sorted(rules, key=lambda r: r.name))
        self.by_name = {rule.name: rule for rule in self.rules}
        self.names = frozenset(self.by_name)
        self.needs: frozenset[AggregateNeed] = frozenset().union(*(r.predicate.needs for r in self.rules))
        by_event: dict[str, list[SegmentRule]] = {}
        for rule in self.rules:
            for event in sorted({need.event for need in rule.predicate.needs}):
                by_event.setdefault(event, []).append(rule)
        self.by_event = {event: tuple(rules) for event, rules in by_event.items()}

    @classmethod
    def compile(cls, definitions: Iterable[SegmentDefinition], workspace: str) -> SegmentRules:
        """Compile every definition; one that no longer compiles (the management API checked it, a newer
        rumbo may disagree) is left out with an error in the log, and its members leave it."""
        rules = []
        for definition in definitions:
            try:
                predicate = compile_predicate(definition.rule, _SCOPE)
            except ExpressionError as exc:
                log.error("workspace %s: segment %r cannot be evaluated: %s", workspace, definition.name, exc)
                continue
            rules.append(SegmentRule(definition.name, definition.rule, predicate, definition.refresh))
        return cls(rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def member(self, rule: SegmentRule, customer: Customer, now: float, timezone: str | None) -> bool:
        """Whether the customer belongs in `rule`'s segment now."""
        return rule.predicate(_Profile(customer, now, timezone))

    def affected(self, before: Customer, after: Customer, event: str | None) -> tuple[SegmentRule, ...]:
        """The rules whose answer a step from `before` to `after` may have changed; `event` is the name of
        the event the step took, if it took one. The engine copies a container only when it writes to it,
        so comparing identities is enough and costs nothing when a step touched none."""
        if after is before:
            return ()
        if (
            after.traits is not before.traits
            or after.consent is not before.consent
            or after.tags is not before.tags
            or after.segments is not before.segments
        ):
            return self.rules
        if after.counts is not before.counts or after.last is not before.last:
            return self.rules if event is None else self.by_event.get(event, ())
        return ()

    def first_change(
        self,
        customer: Customer,
        now: float,
        timezone: str | None,
        rules: tuple[SegmentRule, ...] | None = None,
    ) -> tuple[str, bool] | None:
        """The first membership that is not what the rules (all, or those given) say: (segment, entered),
        or None when all are."""
        segments = customer.segments
        for name in sorted(segments - self.names):
            return name, False
        if not self.rules:
            return None
        profile = _Profile(customer, now, timezone)
        for rule in self.rules if rules is None else rules:
            member = rule.predicate(profile)
            if member != (rule.name in segments):
                return rule.name, member
        return None


NO_SEGMENTS = SegmentRules()
