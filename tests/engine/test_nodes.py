"""Each node type driven through the engine directly: the whole command list and the resulting state."""

from __future__ import annotations

import pytest

from rumbo.engine.commands import CancelTimer, EmitEvent, ScheduleTimer, Send, UpdateProfile
from rumbo.engine.inputs import ApiStart, ScheduleTick, SegmentChange, TimerFired
from rumbo.engine.policy import Policy
from rumbo.engine.rand import key, run_key
from rumbo.engine.state import Customer, Run
from rumbo.engine.step import Engine
from rumbo.errors import IllegalInput
from rumbo.records import Conversion, Decision, Transition
from tests.helpers import DAY, HOUR, T0, event, journey, reachable

NO_QUIET = Policy(quiet_hours=None, caps=())

WAIT = journey(
    """
    journey: j
    events: {go: {}}
    entry: {event: go}
    nodes:
      pause: {wait: {for: 2h}, next: hello}
      hello: {send: {channel: email, template: t1}, next: end}
      end: {exit: {}}
    """
)


def T(
    run: str,
    frm: str | None,
    to: str | None,
    cause: str,
    inp: str,
    at: float,
    variant: str | None = None,
    journey_id: str = "j",
    since: float | None = None,
) -> Transition:
    """A transition of u1; a move out of a node happened `since` its entry (default: at the same instant)."""
    if since is None and frm is not None:
        since = at
    return Transition("default", "u1", journey_id, 1, run, frm, to, cause, inp, at, variant, since)  # type: ignore[arg-type]


def test_wait_for_a_duration_schedules_a_timer_then_moves_on_when_it_fires() -> None:
    engine = Engine([WAIT], NO_QUIET)
    start = reachable()
    go = event("go", T0)
    first = engine.step(start, go, T0)
    run_id = run_key("j", "u1", go.id, "pause")
    assert first.commands == [
        T(run_id, None, "pause", "entered", go.id, T0),
        ScheduleTimer("u1", run_id, 1, T0 + 2 * HOUR, "wait"),
    ]
    assert first.customer.runs == {run_id: Run(run_id, "j", 1, "pause", T0, None, 1)}
    assert first.customer.entries == {"j": (1, T0)}
    assert start.runs == {} and start.entries == {}  # the caller's state is never touched

    fired = TimerFired(run_id, 1)
    second = engine.step(first.customer, fired, T0 + 2 * HOUR)
    at = T0 + 2 * HOUR
    assert second.commands == [
        T(run_id, "pause", "hello", "next", fired.id, at, since=T0),
        Send(key("j", 1, "hello", "u1", run_id, fired.id), "u1", "j", 1, run_id, "hello", "email", "t1", at),
        T(run_id, "hello", "end", "next", fired.id, at),
        T(run_id, "end", None, "next", fired.id, at),
    ]
    assert second.customer.runs == {}
    assert second.customer.sends == ((at, "email", "j", 50.0, None),)


def test_a_stale_or_unknown_timer_is_refused_and_changes_nothing() -> None:
    engine = Engine([WAIT], NO_QUIET)
    first = engine.step(reachable(), event("go", T0), T0)
    (run_id,) = first.customer.runs
    before = first.customer.as_dict()
    with pytest.raises(IllegalInput, match="stale timer 7"):
        engine.step(first.customer, TimerFired(run_id, 7), T0 + 3 * HOUR)
    with pytest.raises(IllegalInput, match="not active"):
        engine.step(first.customer, TimerFired("nope", 1), T0 + 3 * HOUR)
    assert first.customer.as_dict() == before


def test_wait_until_a_local_window_in_the_customers_time_zone() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}}
        entry: {event: go}
        nodes:
          morning: {wait: {window: {days: weekdays, from: "09:00", to: "11:00"}}, next: end}
          end: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    # Saturday 12:00 UTC = 13:00 in Madrid: the next weekday window opens Monday 09:00 Madrid (08:00 UTC)
    saturday_noon = T0 + 5 * DAY + 4 * HOUR
    result = engine.step(reachable(timezone="Europe/Madrid"), event("go", saturday_noon), saturday_noon)
    timers = [c for c in result.commands if isinstance(c, ScheduleTimer)]
    assert [t.at for t in timers] == [T0 + 7 * DAY]
    # Inside the window the run passes straight through.
    monday_ten_madrid = T0 + HOUR
    result = engine.step(
        reachable(timezone="Europe/Madrid"), event("go", monday_ten_madrid), monday_ten_madrid
    )
    assert [c.cause for c in result.commands if isinstance(c, Transition)] == ["entered", "next", "next"]


def test_wait_until_a_trait_date_minus_an_offset_at_a_local_time() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}}
        entry: {event: go}
        nodes:
          before: {wait: {until_trait: renewal_date, offset: -14d, at: "10:00", if_past: exit}, next: end}
          end: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    customer = reachable(renewal_date="2026-04-01", timezone="America/New_York")
    result = engine.step(customer, event("go", T0), T0)
    # 2026-03-18 10:00 in New York (EDT, UTC-4) = 14:00 UTC
    import datetime as dt

    expected = dt.datetime(2026, 3, 18, 14, 0, tzinfo=dt.UTC).timestamp()
    assert [c.at for c in result.commands if isinstance(c, ScheduleTimer)] == [expected]
    # A date already past with if_past: exit leaves the journey at once; a missing date too.
    past = engine.step(reachable(renewal_date="2026-03-05"), event("go", T0), T0)
    missing = engine.step(reachable(), event("go", T0), T0)
    for outcome in (past, missing):
        assert [(c.from_node, c.to_node) for c in outcome.commands if isinstance(c, Transition)] == [
            (None, "before"),
            ("before", None),
        ]
        assert outcome.customer.runs == {}


WAIT_FOR = journey(
    """
    journey: j
    events: {go: {}, bought: {properties: {value: number}}}
    entry: {event: go}
    nodes:
      watch:
        wait_for: {event: bought, where: "event.properties.value >= 10", timeout: 3d}
        next: {happened: yes, timed_out: no}
      yes: {exit: {reason: bought}}
      no: {exit: {}}
    """
)


def test_wait_for_takes_the_happened_edge_only_for_a_matching_event() -> None:
    engine = Engine([WAIT_FOR], NO_QUIET)
    go = event("go", T0)
    entered = engine.step(reachable(), go, T0)
    (run_id,) = entered.customer.runs
    assert entered.commands[-1] == ScheduleTimer("u1", run_id, 1, T0 + 3 * DAY, "timeout")
    small = engine.step(entered.customer, event("bought", T0 + HOUR, value=5), T0 + HOUR)
    assert small.commands == [] and small.customer.runs[run_id].node == "watch"
    big = event("bought", T0 + 2 * HOUR, value=50)
    done = engine.step(small.customer, big, T0 + 2 * HOUR)
    assert done.commands == [
        CancelTimer("u1", run_id, 1),
        T(run_id, "watch", "yes", "event", big.id, T0 + 2 * HOUR, since=T0),
        T(run_id, "yes", None, "next", big.id, T0 + 2 * HOUR),
    ]


def test_wait_for_times_out_on_the_timed_out_edge() -> None:
    engine = Engine([WAIT_FOR], NO_QUIET)
    entered = engine.step(reachable(), event("go", T0), T0)
    (run_id,) = entered.customer.runs
    fired = TimerFired(run_id, 1)
    done = engine.step(entered.customer, fired, T0 + 3 * DAY)
    assert [(c.from_node, c.to_node, c.cause) for c in done.commands if isinstance(c, Transition)] == [
        ("watch", "no", "timeout"),
        ("no", None, "next"),
    ]


def test_branch_takes_the_first_true_case_else_the_default() -> None:
    j = journey(
        """
        journey: j
        events: {go: {properties: {n: number}}}
        entry: {event: go}
        nodes:
          route:
            branch:
              cases:
                - {when: "event.properties.n > 10", next: big}
                - {when: "event.properties.n > 5", next: medium}
              else: small
          big: {exit: {}}
          medium: {exit: {}}
          small: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    for n, node in ((50, "big"), (7, "medium"), (1, "small"), (None, "small")):
        result = engine.step(reachable(), event("go", T0, n=n), T0)
        assert [c.to_node for c in result.commands if isinstance(c, Transition)][1] == node


SPLIT = journey(
    """
    journey: j
    events: {go: {}}
    entry: {event: go}
    nodes:
      ab:
        split: {variants: {A: 70, B: 30}, holdout: 10}
        next: {A: a, B: b}
      a: {exit: {}}
      b: {exit: {}}
    """
)


def test_split_is_stable_per_customer_recorded_and_near_its_weights() -> None:
    engine = Engine([SPLIT], NO_QUIET)
    seen: dict[str, int] = {"A": 0, "B": 0, "holdout": 0}
    for i in range(4000):
        customer = reachable(f"c{i}")
        results = [engine.step(customer, event("go", T0 + k, f"m{k}"), T0 + k) for k in range(2)]
        variants = {next(c.chosen for c in r.commands if isinstance(c, Decision)) for r in results}
        assert len(variants) == 1  # the same customer always lands in the same arm
        variant = variants.pop()
        assert variant is not None
        seen[variant] += 1
        transitions = [c for c in results[0].commands if isinstance(c, Transition)]
        if variant == "holdout":  # held out: leaves at the split, no message
            assert [(t.from_node, t.to_node, t.variant) for t in transitions] == [
                (None, "ab", None),
                ("ab", None, "holdout"),
            ]
        else:
            assert transitions[1].variant == variant
    assert abs(seen["holdout"] / 4000 - 0.10) < 0.02
    assert abs(seen["A"] / (seen["A"] + seen["B"]) - 0.70) < 0.03


def test_a_holdout_run_still_converts_within_the_goal_window() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}, bought: {properties: {revenue: number}}}
        entry: {event: go}
        goal: {event: bought, within: 7d, value: "event.properties.revenue"}
        nodes:
          ab:
            split: {variants: {A: 100}, holdout: 99}
            next: {A: a}
          a: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    customer = next(
        c
        for c in (reachable(f"c{i}") for i in range(50))
        if engine.step(c, event("go", T0), T0).customer.trackers
    )
    entered = engine.step(customer, event("go", T0), T0)
    (tracker,) = entered.customer.trackers
    assert tracker[5] == "holdout"
    late = engine.step(entered.customer, event("bought", T0 + 8 * DAY, revenue=5), T0 + 8 * DAY)
    assert late.commands == []
    bought = engine.step(entered.customer, event("bought", T0 + DAY, revenue=30), T0 + DAY)
    assert bought.commands == [
        Conversion("default", customer.id, "j", 1, tracker[2], "bought", 30.0, T0 + DAY)
    ]
    assert bought.customer.trackers == ()


def test_send_best_picks_the_preferred_consented_channel_and_falls_back() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}}
        entry: {event: go}
        nodes:
          hi: {send: {channel: best, template: hello}, next: end}
          end: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)

    def channel(customer: Customer) -> str | None:
        result = engine.step(customer, event("go", T0), T0)
        return next((c.channel for c in result.commands if isinstance(c, Send)), None)

    assert channel(reachable(preferred_channel="sms")) == "sms"
    no_sms = reachable(preferred_channel="sms")
    no_sms.consent["sms"] = False
    assert channel(no_sms) == "email"  # the policy's order after the preference
    nothing = Customer("u1", {"email": "a@b.c"}, {})
    assert channel(nothing) == "inbox"  # the in-app inbox needs no opt-in
    nothing.consent["inbox"] = False
    assert channel(nothing) is None


def test_decide_by_priority_and_by_propensity_times_value_records_why() -> None:
    text = """
        journey: j
        events: {go: {}}
        entry: {event: go}
        offers:
          big: {value: 100, propensity: 0.05, priority: 1}
          small: {value: 10, propensity: 0.8, priority: 2}
          vip_only: {value: 500, propensity: 0.9, priority: 9, eligible: "profile.traits.tier == 'vip'"}
        nodes:
          pick: {decide: {offers: [big, small, vip_only], policy: POLICY}, next: {chosen: offer, none: end}}
          offer: {exit: {}}
          end: {exit: {}}
        """
    by_priority = Engine([journey(text.replace("POLICY", "priority"))], NO_QUIET)
    result = by_priority.step(reachable(), event("go", T0), T0)
    (decision,) = [c for c in result.commands if isinstance(c, Decision)]
    assert decision.candidates == (("big", 1.0), ("small", 2.0)) and decision.chosen == "small"
    assert decision.policy == "priority"
    by_value = Engine([journey(text.replace("POLICY", "propensity_value"))], NO_QUIET)
    result = by_value.step(reachable(tier="vip"), event("go", T0), T0)
    (decision,) = [c for c in result.commands if isinstance(c, Decision)]
    assert decision.chosen == "vip_only"
    assert dict(decision.candidates) == pytest.approx({"big": 5.0, "small": 8.0, "vip_only": 450.0})


def test_decide_thompson_follows_the_statistics_and_is_deterministic() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}}
        entry: {event: go}
        offers: {a: {value: 1}, b: {value: 1}}
        nodes:
          pick: {decide: {offers: [a, b], policy: thompson}, next: end}
          end: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    stats = {("j", "pick", "a"): (90.0, 100.0), ("j", "pick", "b"): (5.0, 100.0)}
    chosen = []
    for i in range(200):
        result = engine.step(reachable(f"c{i}"), event("go", T0), T0, stats)
        again = engine.step(reachable(f"c{i}"), event("go", T0), T0, stats)
        assert result.commands == again.commands
        chosen.append(next(c.chosen for c in result.commands if isinstance(c, Decision)))
    assert chosen.count("a") == 200  # Beta(91, 11) against Beta(6, 96): 'a' always wins


def test_update_sets_increments_unsets_and_tags_and_later_nodes_see_it() -> None:
    j = journey(
        """
        journey: j
        events: {go: {properties: {v: number}}}
        entry: {event: go}
        nodes:
          up:
            update:
              set: {stage: done, last_value: "=event.properties.v * 2"}
              increment: {visits: 1}
              unset: [old]
              add_tags: [seen]
              remove_tags: [new]
            next: check
          check:
            branch: {cases: [{when: "profile.traits.visits == 3 and has_tag('seen')", next: yes}], else: no}
          yes: {exit: {}}
          no: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    start = reachable(visits=2, old="x")
    start.tags = frozenset({"new"})
    result = engine.step(start, event("go", T0, v=21), T0)
    assert (
        UpdateProfile(
            "u1", {"stage": "done", "last_value": 42}, {"visits": 1.0}, ("old",), ("seen",), ("new",)
        )
        in result.commands
    )
    assert result.customer.traits["visits"] == 3 and "old" not in result.customer.traits
    assert result.customer.tags == frozenset({"seen"})
    assert [c.to_node for c in result.commands if isinstance(c, Transition)][-2] == "yes"
    assert start.traits["visits"] == 2 and start.tags == frozenset({"new"})


def test_emit_an_event_and_start_another_journey() -> None:
    parent = journey(
        """
        journey: parent
        events: {go: {}}
        entry: {event: go}
        nodes:
          shout: {emit: {event: shouted, properties: {loud: true}}, next: call}
          call: {emit: {start_journey: child}, next: end}
          end: {exit: {}}
        """
    )
    child = journey(
        """
        journey: child
        entry: {api: true}
        nodes:
          hold: {wait: {for: 1d}, next: end}
          end: {exit: {}}
        """
    )
    engine = Engine([parent, child], NO_QUIET)
    go = event("go", T0)
    result = engine.step(reachable(), go, T0)
    emitted = [c for c in result.commands if isinstance(c, EmitEvent)]
    assert len(emitted) == 1 and emitted[0].event == "shouted" and emitted[0].properties == {"loud": True}
    assert [r.journey for r in result.customer.runs.values()] == ["child"]
    child_entry = [c for c in result.commands if isinstance(c, Transition) and c.journey == "child"]
    assert [(c.from_node, c.to_node, c.cause) for c in child_entry] == [(None, "hold", "entered")]


def test_entry_by_segment_schedule_and_api() -> None:
    j = journey(
        """
        journey: j
        segments: [vip, lapsing]
        entry:
          - {segment: vip, on: enter}
          - {schedule: {cron: "0 9 * * MON", audience: lapsing}}
          - {api: true}
        reentry: always
        concurrent_runs: true
        nodes:
          hold: {wait: {for: 1d}, next: end}
          end: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    joined = engine.step(reachable(), SegmentChange("vip", True, "s1"), T0)
    assert len(joined.customer.runs) == 1 and joined.customer.segments == frozenset({"vip"})
    with pytest.raises(IllegalInput, match="already in segment"):
        engine.step(joined.customer, SegmentChange("vip", True, "s2"), T0)
    not_in_audience = engine.step(joined.customer, ScheduleTick("j", "tick1"), T0)
    assert not_in_audience.commands == []
    lapsing = engine.step(joined.customer, SegmentChange("lapsing", True, "s3"), T0)
    ticked = engine.step(lapsing.customer, ScheduleTick("j", "tick2"), T0)
    assert len(ticked.customer.runs) == 2
    by_api = engine.step(ticked.customer, ApiStart("j", "api1"), T0)
    assert len(by_api.customer.runs) == 3
    with pytest.raises(IllegalInput, match="no live journey"):
        engine.step(by_api.customer, ApiStart("nope", "api2"), T0)


def test_exit_node_ends_the_run_and_records_the_exit() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}}
        entry: {event: go}
        nodes:
          end: {exit: {reason: done}}
        """
    )
    go = event("go", T0)
    result = Engine([j], NO_QUIET).step(reachable(), go, T0)
    run_id = run_key("j", "u1", go.id, "end")
    assert result.commands == [
        T(run_id, None, "end", "entered", go.id, T0),
        T(run_id, "end", None, "next", go.id, T0),
    ]
    assert result.customer.runs == {}
