"""The send gate: one decision per send, above all journeys.

Order of checks, each recorded as a suppression reason when it holds a send back:
programme holdout → paused channel/template → consent and reachability (with `best` and fallback) →
frequency caps → quiet hours (defer, never drop) → arbitration between journeys. Transactional sends skip
caps, quiet hours and arbitration, and need only the absence of an opt-out.
"""

from __future__ import annotations

from dataclasses import dataclass

from rumbo.engine.localtime import quiet_until
from rumbo.engine.policy import Policy
from rumbo.engine.rand import unit
from rumbo.engine.state import Customer
from rumbo.journey.model import Journey, QuietHours, SendNode
from rumbo.records import SuppressionReason


@dataclass(slots=True)
class Verdict:
    """Approved (reason None, channel set), dropped (reason, no deferral) or deferred (reason and until)."""

    channel: str | None
    reason: SuppressionReason | None = None
    deferred_until: float | None = None


def score(journey: Journey) -> float:
    return journey.priority * journey.expected_value


def _permitted(customer: Customer, channel: str, node: SendNode, policy: Policy) -> str | None:
    """None if the channel may carry this send, else the reason it may not."""
    address = policy.address_traits.get(channel)
    if address and not customer.traits.get(address):
        return "no_channel"
    consent = customer.consent
    if node.transactional or channel not in policy.opt_in_channels:
        if consent.get(channel) is False:
            return "no_consent"
    elif consent.get(channel) is not True:
        return "no_consent"
    if node.topic and consent.get(f"{channel}.{node.topic}") is False and not node.transactional:
        return "no_consent"
    return None


def _candidates(customer: Customer, node: SendNode, policy: Policy) -> list[str]:
    if node.channel == "best":
        preferred = customer.traits.get("preferred_channel")
        order = [preferred] if isinstance(preferred, str) else []
        order += [c for c in policy.channel_order if c not in order]
    else:
        order = [node.channel]
    if node.fallback and node.fallback not in order:
        order.append(node.fallback)
    return order


def decide(
    customer: Customer, journey: Journey, node: SendNode, policy: Policy, now: float, deferrals: int
) -> Verdict:
    """The gate's verdict for one send, given what the customer was already sent (customer.sends)."""
    if policy.holdout and unit(policy.workspace, customer.id, "programme-holdout") < policy.holdout:
        return Verdict(None, "holdout")
    paused = policy.paused
    if f"template:{node.template}" in paused:
        return Verdict(None, "paused")
    channel, first_reason = None, None
    for candidate in _candidates(customer, node, policy):
        if candidate in paused:
            first_reason = first_reason or "paused"
            continue
        reason = _permitted(customer, candidate, node, policy)
        if reason is None:
            channel = candidate
            break
        # no_consent outranks no_channel: it is what the owner can act on.
        first_reason = "no_consent" if "no_consent" in (reason, first_reason) else first_reason or reason
    if channel is None:
        return Verdict(None, first_reason or "no_channel")  # type: ignore[arg-type]
    if node.transactional:
        return Verdict(channel)
    verdict = _caps(customer, journey, channel, policy, now)
    if verdict is None:
        verdict = _quiet(customer, journey, channel, policy, now)
    if verdict is None:
        verdict = _arbitration(customer, journey, node, channel, policy, now)
    if verdict is None:
        return Verdict(channel)
    if verdict.deferred_until is not None and deferrals >= policy.max_deferrals:
        return Verdict(channel, verdict.reason)  # deferred too often: dropped, so the run moves on
    return verdict


def _caps(customer: Customer, journey: Journey, channel: str, policy: Policy, now: float) -> Verdict | None:
    for cap in policy.caps:
        if cap.channel is not None and cap.channel != channel:
            continue
        if cap.group is not None and cap.group != journey.cap_group:
            continue
        inside = [
            s
            for s in customer.sends
            if now - s[0] < cap.per
            and (cap.channel is None or s[1] == cap.channel)
            and (cap.group is None or s[4] == cap.group)
        ]
        if len(inside) >= cap.max:
            if policy.on_cap == "defer":
                frees_at = sorted(s[0] for s in inside)[len(inside) - cap.max] + cap.per
                return Verdict(channel, "frequency_cap", frees_at)
            return Verdict(channel, "frequency_cap")
    return None


def _quiet(customer: Customer, journey: Journey, channel: str, policy: Policy, now: float) -> Verdict | None:
    quiet: QuietHours | None
    if journey.quiet_hours is True:
        quiet = policy.quiet_hours
    elif journey.quiet_hours is False or journey.quiet_hours is None:
        quiet = None
    else:
        quiet = journey.quiet_hours
    if quiet is None:
        return None
    until = quiet_until(now, customer.timezone or policy.default_timezone, quiet)
    return Verdict(channel, "quiet_hours", until) if until is not None else None


def _arbitration(
    customer: Customer, journey: Journey, node: SendNode, channel: str, policy: Policy, now: float
) -> Verdict | None:
    mine = score(journey)
    rivals = [
        s
        for s in customer.sends
        if s[2] != journey.id and now - s[0] < policy.arbitration_window and s[3] >= mine
    ]
    if not rivals:
        return None
    if node.on_conflict == "skip":
        return Verdict(channel, "arbitration_lost")
    return Verdict(channel, "arbitration_lost", max(s[0] for s in rivals) + policy.arbitration_window)
