"""The send gate across journeys: consent, caps, quiet hours, arbitration, programme holdout, pauses."""

from __future__ import annotations

import datetime as dt

from rumbo.engine.commands import ScheduleTimer, Send
from rumbo.engine.inputs import TimerFired
from rumbo.engine.policy import Cap, Policy
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.journey.model import Journey, QuietHours
from rumbo.records import Suppression, Transition
from tests.helpers import DAY, HOUR, T0, event, journey, reachable


def sender(
    name: str, priority: int = 50, extra: str = "", send: str = "channel: email, template: t"
) -> Journey:
    return journey(
        f"""
        journey: {name}
        priority: {priority}
        events: {{go: {{}}}}
        entry: {{event: go}}
        reentry: always
        {extra}
        nodes:
          hi: {{send: {{{send}}}, next: end}}
          end: {{exit: {{}}}}
        """
    )


def sends(commands: list[object]) -> list[Send]:
    return [c for c in commands if isinstance(c, Send)]


def suppressions(commands: list[object]) -> list[Suppression]:
    return [c for c in commands if isinstance(c, Suppression)]


def test_no_consent_suppresses_and_the_run_moves_on() -> None:
    engine = Engine([sender("j")], Policy(quiet_hours=None))
    customer = reachable()
    customer.consent["email"] = False
    result = engine.step(customer, event("go", T0), T0)
    assert sends(result.commands) == []
    (s,) = suppressions(result.commands)
    assert (s.reason, s.channel, s.deferred_until, s.node) == ("no_consent", None, None, "hi")
    assert result.customer.runs == {}  # skipped, not stuck


def test_a_topic_opt_out_blocks_marketing_but_not_transactional_sends() -> None:
    marketing = Engine(
        [sender("j", send="channel: email, template: t, topic: news")], Policy(quiet_hours=None)
    )
    receipts = Engine(
        [sender("j", send="channel: email, template: t, topic: news, transactional: true")],
        Policy(quiet_hours=None),
    )
    customer = reachable()
    customer.consent["email.news"] = False
    assert suppressions(marketing.step(customer, event("go", T0), T0).commands)[0].reason == "no_consent"
    assert len(sends(receipts.step(customer, event("go", T0), T0).commands)) == 1


def test_missing_address_is_no_channel_and_a_fallback_channel_is_used() -> None:
    engine = Engine(
        [sender("j", send="channel: sms, template: t, fallback: email")], Policy(quiet_hours=None)
    )
    customer = Customer("u1", {"email": "a@b.c"}, {"email": True, "sms": True})
    (sent,) = sends(engine.step(customer, event("go", T0), T0).commands)
    assert sent.channel == "email"
    alone = Engine([sender("j", send="channel: sms, template: t")], Policy(quiet_hours=None))
    assert suppressions(alone.step(customer, event("go", T0), T0).commands)[0].reason == "no_channel"


def test_frequency_caps_hold_over_a_sliding_window_across_journeys() -> None:
    policy = Policy(quiet_hours=None, caps=(Cap(2, DAY),), arbitration_window=0)
    engine = Engine([sender("a"), sender("b"), sender("c")], policy)
    customer = reachable()
    outcomes = []
    for i, at in enumerate([T0, T0 + HOUR, T0 + 2 * HOUR, T0 + DAY + 1]):
        result = engine.step(customer, event("go", at, f"m{i}"), at)
        customer = result.customer
        outcomes.append((len(sends(result.commands)), [s.reason for s in suppressions(result.commands)]))
    # each input starts a, b and c; two may go per rolling day
    assert outcomes[0] == (2, ["frequency_cap"])
    assert outcomes[1] == (0, ["frequency_cap"] * 3)
    assert outcomes[2] == (0, ["frequency_cap"] * 3)
    assert outcomes[3] == (2, ["frequency_cap"])  # the first two sends left the window


def test_cap_groups_count_only_their_journeys() -> None:
    policy = Policy(quiet_hours=None, caps=(Cap(1, DAY, group="marketing"),), arbitration_window=0)
    engine = Engine(
        [
            sender("promo", extra="cap_group: marketing"),
            sender("promo2", extra="cap_group: marketing"),
            sender("service"),
        ],
        policy,
    )
    result = engine.step(reachable(), event("go", T0), T0)
    assert sorted(s.journey for s in sends(result.commands)) == ["promo", "service"]
    assert [(s.journey, s.reason) for s in suppressions(result.commands)] == [("promo2", "frequency_cap")]


def test_quiet_hours_defer_to_the_local_morning_and_the_send_goes_then() -> None:
    engine = Engine([sender("j")], Policy(quiet_hours=QuietHours(21 * 60, 8 * 60)))
    customer = reachable(timezone="Asia/Tokyo")
    # 2026-03-02 14:00 UTC = 23:00 in Tokyo: deferred to 08:00 Tokyo on 03-03 = 23:00 UTC on 03-02
    late = T0 + 6 * HOUR
    result = engine.step(customer, event("go", late), late)
    (s,) = suppressions(result.commands)
    morning = dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC).timestamp()
    assert (s.reason, s.deferred_until) == ("quiet_hours", morning)
    (timer,) = [c for c in result.commands if isinstance(c, ScheduleTimer)]
    assert (timer.at, timer.kind) == (morning, "retry")
    retried = engine.step(result.customer, TimerFired(timer.run, timer.token), morning)
    (sent,) = sends(retried.commands)
    assert sent.at == morning and retried.customer.runs == {}


def test_a_journey_can_set_its_own_quiet_hours_or_none() -> None:
    late = T0 + 14 * HOUR  # 22:00 UTC
    own = Engine([sender("j", extra='quiet_hours: {from: "23:00", to: "06:00"}')], Policy())
    assert len(sends(own.step(reachable(), event("go", late), late).commands)) == 1
    off = Engine([sender("j", extra="quiet_hours: false")], Policy())
    assert len(sends(off.step(reachable(), event("go", late), late).commands)) == 1
    default = Engine([sender("j")], Policy())
    assert (
        suppressions(default.step(reachable(), event("go", late), late).commands)[0].reason == "quiet_hours"
    )


def test_arbitration_highest_priority_times_value_wins_others_defer_or_skip() -> None:
    policy = Policy(quiet_hours=None, caps=(), arbitration_window=HOUR)
    high = sender("high", priority=90)
    low_defer = sender("low", priority=10)
    low_skip = sender("lowskip", priority=20, send="channel: email, template: t, on_conflict: skip")
    engine = Engine([low_defer, high, low_skip], policy)
    result = engine.step(reachable(), event("go", T0), T0)
    assert [s.journey for s in sends(result.commands)] == ["high"]
    reasons = {(s.journey, s.reason, s.deferred_until) for s in suppressions(result.commands)}
    assert reasons == {("low", "arbitration_lost", T0 + HOUR), ("lowskip", "arbitration_lost", None)}
    # the deferred one goes when the window has passed
    (timer,) = [c for c in result.commands if isinstance(c, ScheduleTimer)]
    later = engine.step(result.customer, TimerFired(timer.run, timer.token), T0 + HOUR)
    assert [s.journey for s in sends(later.commands)] == ["low"]


def test_the_same_journey_does_not_compete_with_itself() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}}
        entry: {event: go}
        nodes:
          one: {send: {channel: email, template: a}, next: two}
          two: {send: {channel: email, template: b}, next: end}
          end: {exit: {}}
        """
    )
    result = Engine([j], Policy(quiet_hours=None, caps=())).step(reachable(), event("go", T0), T0)
    assert [s.template for s in sends(result.commands)] == ["a", "b"]


def test_programme_holdout_suppresses_every_send_but_the_path_is_kept() -> None:
    engine = Engine([sender("j")], Policy(quiet_hours=None, holdout=0.5))
    held = kept = 0
    for i in range(400):
        result = engine.step(reachable(f"c{i}"), event("go", T0), T0)
        if sends(result.commands):
            kept += 1
        else:
            assert [s.reason for s in suppressions(result.commands)] == ["holdout"]
            assert [c.to_node for c in result.commands if isinstance(c, Transition)] == ["hi", "end", None]
            held += 1
    assert 160 < held < 240 and held + kept == 400


def test_paused_channels_and_templates_are_suppressed_as_paused() -> None:
    engine = Engine(
        [sender("j", send="channel: email, template: t")],
        Policy(quiet_hours=None, paused=frozenset({"template:t"})),
    )
    assert suppressions(engine.step(reachable(), event("go", T0), T0).commands)[0].reason == "paused"


def test_a_send_deferred_too_often_is_dropped_so_the_run_never_waits_forever() -> None:
    policy = Policy(
        quiet_hours=QuietHours(21 * 60, 8 * 60), caps=(Cap(1, DAY),), on_cap="defer", max_deferrals=1
    )
    engine = Engine([sender("j")], policy)
    late = T0 + 14 * HOUR  # 22:00 UTC: quiet, deferred once to 08:00
    result = engine.step(reachable(), event("go", late), late)
    (timer,) = [c for c in result.commands if isinstance(c, ScheduleTimer)]
    # meanwhile another journey used up the day's cap: a second deferral would exceed max_deferrals
    busy = result.customer.copy()
    busy.sends = ((timer.at - HOUR, "email", "other", 99.0, None),)
    result = engine.step(busy, TimerFired(timer.run, timer.token), timer.at)
    (last,) = suppressions(result.commands)
    assert (last.reason, last.deferred_until) == ("frequency_cap", None)
    assert result.customer.runs == {} and sends(result.commands) == []


def test_caps_can_defer_until_the_window_frees() -> None:
    engine = Engine([sender("j")], Policy(quiet_hours=None, caps=(Cap(1, DAY),), on_cap="defer"))
    busy = reachable()
    busy.sends = ((T0 - HOUR, "email", "other", 99.0, None),)
    result = engine.step(busy, event("go", T0), T0)
    (s,) = suppressions(result.commands)
    assert (s.reason, s.deferred_until) == ("frequency_cap", T0 - HOUR + DAY)
