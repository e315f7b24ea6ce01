"""Journey-level rules: goals, exit_on, `on` jumps, re-entry, one run at a time, versions, runaway bounds."""

from __future__ import annotations

from collections import Counter

import pytest

from rumbo.engine.commands import CancelTimer, ScheduleTimer, Send
from rumbo.engine.inputs import EventInput, Migrate, TimerFired
from rumbo.engine.policy import Policy
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.errors import IllegalInput, RunawayJourney
from rumbo.records import Conversion, Transition
from tests.helpers import DAY, HOUR, T0, event, journey, reachable

NO_QUIET = Policy(quiet_hours=None, caps=())

RULES = journey(
    """
    journey: j
    events: {go: {}, bought: {properties: {revenue: number}}, help: {}, stop: {}}
    entry: {event: go}
    goal: {event: bought, within: 7d, value: "event.properties.revenue"}
    exit_on: [{event: stop}]
    on: [{event: help, goto: care}]
    nodes:
      hold: {wait: {for: 3d}, next: end}
      care: {wait: {for: 1h}, next: end}
      end: {exit: {}}
    """
)


def entered(engine: Engine, customer: Customer | None = None) -> Customer:
    return engine.step(customer or reachable(), event("go", T0), T0).customer


def test_the_goal_converts_with_its_value_and_exits() -> None:
    engine = Engine([RULES], NO_QUIET)
    customer = entered(engine)
    (run,) = customer.runs.values()
    bought = event("bought", T0 + DAY, revenue=80)
    result = engine.step(customer, bought, T0 + DAY)
    assert result.commands == [
        Conversion("default", "u1", "j", 1, run.id, "bought", 80.0, T0 + DAY),
        CancelTimer("u1", run.id, 1),
        Transition("default", "u1", "j", 1, run.id, "hold", None, "goal", bought.id, T0 + DAY, None, T0),
    ]
    assert result.customer.runs == {} and result.customer.trackers == ()


def test_a_goal_outside_the_window_does_not_convert() -> None:
    engine = Engine([RULES], NO_QUIET)
    customer = entered(engine)
    customer = engine.step(customer, event("help", T0 + HOUR), T0 + HOUR).customer  # now waits 1h at care
    (run,) = customer.runs.values()
    done = engine.step(customer, TimerFired(run.id, run.timer), T0 + 2 * HOUR).customer
    assert done.runs == {} and len(done.trackers) == 1
    late = engine.step(done, event("bought", T0 + 8 * DAY, revenue=5), T0 + 8 * DAY)
    assert [c for c in late.commands if isinstance(c, Conversion)] == []


def test_exit_on_wins_over_everything_else() -> None:
    engine = Engine([RULES], NO_QUIET)
    customer = entered(engine)
    stop = event("stop", T0 + HOUR)
    result = engine.step(customer, stop, T0 + HOUR)
    assert [(c.from_node, c.to_node, c.cause) for c in result.commands if isinstance(c, Transition)] == [
        ("hold", None, "exit_on")
    ]
    assert result.customer.runs == {}


def test_an_on_jump_moves_from_any_node_and_cancels_the_old_timer() -> None:
    engine = Engine([RULES], NO_QUIET)
    customer = entered(engine)
    (run,) = customer.runs.values()
    result = engine.step(customer, event("help", T0 + HOUR), T0 + HOUR)
    assert [type(c).__name__ for c in result.commands] == ["CancelTimer", "Transition", "ScheduleTimer"]
    assert result.customer.runs[run.id].node == "care"
    with pytest.raises(IllegalInput, match="stale timer 1"):
        engine.step(result.customer, TimerFired(run.id, 1), T0 + 3 * DAY)


def test_reentry_rules_never_cooldown_and_max() -> None:
    def journey_with(reentry: str) -> Engine:
        return Engine(
            [
                journey(f"""
            journey: j
            events: {{go: {{}}}}
            entry: {{event: go}}
            reentry: {reentry}
            nodes:
              end: {{exit: {{}}}}
            """)
            ],
            NO_QUIET,
        )

    def entries(engine: Engine, times: list[float]) -> int:
        customer, count = reachable(), 0
        for i, at in enumerate(times):
            result = engine.step(customer, event("go", at, f"m{i}"), at)
            count += sum(1 for c in result.commands if isinstance(c, Transition) and c.cause == "entered")
            customer = result.customer
        return count

    times = [T0, T0 + HOUR, T0 + 2 * DAY, T0 + 4 * DAY, T0 + 9 * DAY]
    assert entries(journey_with("never"), times) == 1
    assert entries(journey_with("always"), times) == 5
    assert entries(journey_with("{cooldown: 2d}"), times) == 4  # all but the one an hour after the first
    assert entries(journey_with("{max: 2}"), times) == 2
    assert entries(journey_with("{cooldown: 1d, max: 3}"), times) == 3


def test_one_active_run_per_customer_unless_concurrent_runs() -> None:
    text = """
        journey: j
        events: {go: {}}
        entry: {event: go}
        reentry: always
        CONCURRENT
        nodes:
          hold: {wait: {for: 1d}, next: end}
          end: {exit: {}}
        """
    single = Engine([journey(text.replace("CONCURRENT", ""))], NO_QUIET)
    several = Engine([journey(text.replace("CONCURRENT", "concurrent_runs: true"))], NO_QUIET)
    for engine, expected in ((single, 1), (several, 3)):
        customer = reachable()
        for i in range(3):
            customer = engine.step(customer, event("go", T0 + i, f"m{i}"), T0 + i).customer
        assert len(customer.runs) == expected


def test_count_aggregates_are_kept_for_predicates_and_trimmed_to_their_window() -> None:
    j = journey(
        """
        journey: j
        events: {view: {}}
        entry: {event: view, where: "count('view', within='1d') >= 3"}
        nodes:
          end: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    customer, started = reachable(), []
    for i, at in enumerate([T0, T0 + HOUR, T0 + 2 * DAY, T0 + 2 * DAY + 1, T0 + 2 * DAY + 2]):
        result = engine.step(customer, event("view", at, f"v{i}"), at)
        customer = result.customer
        started.append(any(isinstance(c, Transition) and c.cause == "entered" for c in result.commands))
    assert started == [False, False, False, False, True]
    assert customer.counts["view"] == (T0 + 2 * DAY, T0 + 2 * DAY + 1, T0 + 2 * DAY + 2)


V1 = journey(
    """
    journey: j
    events: {go: {}}
    entry: {event: go}
    nodes:
      first: {wait: {for: 1d}, next: second}
      second: {wait: {for: 1d}, next: end}
      end: {exit: {}}
    """
)
V2 = journey(
    """
    journey: j
    events: {go: {}}
    entry: {event: go}
    nodes:
      first: {wait: {for: 2d}, next: renamed}
      renamed: {wait: {for: 1d}, next: end}
      end: {exit: {}}
    """,
    version=2,
)


def test_a_run_stays_on_its_version_and_migrates_by_mapping() -> None:
    engine = Engine([V1], NO_QUIET)
    customer = entered(engine)
    published = engine.publish(V2)
    (run,) = customer.runs.values()
    # drain: the run keeps running version 1 on the new engine
    moved = published.step(customer, TimerFired(run.id, run.timer), T0 + DAY)
    assert moved.customer.runs[run.id].version == 1 and moved.customer.runs[run.id].node == "second"
    plan = published.migration_plan([moved.customer], "j", 2, {"second": "renamed"})
    assert plan == Counter({(1, "second", "renamed"): 1})
    assert published.migration_plan([moved.customer], "j", 2) == Counter({(1, "second", "stopped"): 1})
    migrated = published.step(
        moved.customer, Migrate("j", 2, "mig1", mapping={"second": "renamed"}), T0 + DAY
    )
    assert [
        (c.from_node, c.to_node, c.cause, c.version) for c in migrated.commands if isinstance(c, Transition)
    ] == [("second", "renamed", "migrated", 1)]
    assert not [c for c in migrated.commands if isinstance(c, CancelTimer | ScheduleTimer)]  # same wait kept
    assert migrated.customer.runs[run.id].version == 2


def test_migrate_stop_ends_runs_and_new_entries_use_the_new_version() -> None:
    engine = Engine([V1], NO_QUIET).publish(V2)
    assert engine.live["j"].version == 2
    old = Engine([V1], NO_QUIET)
    customer = entered(old)
    stopped = engine.step(customer, Migrate("j", 2, "mig", mode="stop"), T0)
    assert [c.cause for c in stopped.commands if isinstance(c, Transition)] == ["stopped"]
    fresh = engine.step(reachable("u2"), event("go", T0), T0).customer
    assert [r.version for r in fresh.runs.values()] == [2]
    with pytest.raises(IllegalInput, match="version 9 is not published"):
        engine.step(customer, Migrate("j", 9, "mig"), T0)


def test_a_runaway_graph_is_stopped_with_a_clear_error_and_no_state_change() -> None:
    ping = journey(
        """
        journey: ping
        entry: {api: true}
        reentry: always
        concurrent_runs: true
        nodes:
          call: {emit: {start_journey: ping}, next: end}
          end: {exit: {}}
        """
    )
    engine = Engine([ping], Policy(max_steps=50))
    from rumbo.engine.inputs import ApiStart

    customer = reachable()
    with pytest.raises(RunawayJourney, match="'ping' took 51 steps"):
        engine.step(customer, ApiStart("ping", "a1"), T0)
    assert customer.runs == {} and customer.entries == {}


def test_an_event_no_journey_listens_to_returns_the_same_state() -> None:
    engine = Engine([RULES], NO_QUIET)
    customer = reachable()
    result = engine.step(customer, EventInput("x", "unrelated", T0, {}), T0)
    assert result.customer is customer and result.commands == []


def test_identify_traits_and_consent_events_update_the_profile() -> None:
    engine = Engine([RULES], NO_QUIET)
    customer = Customer("u1")
    identify = EventInput(
        "i1",
        "identified",
        T0,
        {"type": "identify", "traits": {"plan": "pro", "consent": {"email": True, "sms": False}}},
    )
    after = engine.step(customer, identify, T0).customer
    assert after.traits == {"plan": "pro"} and after.consent == {"email": True, "sms": False}
    unsub = EventInput("u", "unsubscribed", T0, {"properties": {"channel": "email", "topic": "news"}})
    assert engine.step(after, unsub, T0).customer.consent == {
        "email": True,
        "sms": False,
        "email.news": False,
    }
    assert customer.traits == {} and customer.consent == {}


def test_a_new_timezone_applies_to_later_nodes_of_the_same_step() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}}
        entry: {event: go}
        nodes:
          move: {update: {set: {timezone: Asia/Tokyo}}, next: morning}
          morning: {wait: {window: {days: any, from: "09:00", to: "10:00"}}, next: end}
          end: {exit: {}}
        """
    )
    result = Engine([j], NO_QUIET).step(reachable(timezone="UTC"), event("go", T0), T0)
    (timer,) = [c for c in result.commands if isinstance(c, ScheduleTimer)]
    assert timer.at == T0 + 16 * HOUR  # T0 is 17:00 in Tokyo; 09:00 there on 03-03 is 00:00 UTC


def test_concurrent_runs_reaching_one_send_on_one_input_get_distinct_keys() -> None:
    j = journey(
        """
        journey: j
        events: {go: {}, tick: {}}
        entry: {event: go}
        reentry: always
        concurrent_runs: true
        nodes:
          hold: {wait_for: {event: tick, timeout: 1d}, next: {happened: hi, timed_out: end}}
          hi: {send: {channel: email, template: t}, next: end}
          end: {exit: {}}
        """
    )
    engine = Engine([j], NO_QUIET)
    customer = reachable()
    for i in range(2):
        customer = engine.step(customer, event("go", T0 + i, f"g{i}"), T0 + i).customer
    result = engine.step(customer, event("tick", T0 + HOUR), T0 + HOUR)
    sends = [c for c in result.commands if isinstance(c, Send)]
    assert len(sends) == 2 and len({s.key for s in sends}) == 2 and len({s.run for s in sends}) == 2
