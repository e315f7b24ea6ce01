"""Segments in the running platform, on SQLite and PostgreSQL: membership judged in the worker's step and
stored with it, entries on entering and leaving, `in_segment()` in predicates, time-based rules re-judged on
their refresh, rule changes and deletions, and scheduled entries firing once per cron time."""

from __future__ import annotations

import orjson

from rumbo.runtime.intake import merge_message
from rumbo.store.base import NewEvent
from tests.runtime.conftest import CLI, DAY, HOUR, T0, WORKSPACE, Runtime

# Each entry ends at once and re-entry is always allowed, so every SegmentChange the engine is fed shows
# as an entry: a change fed twice would be counted twice.
ON_ENTER = """
journey: vip-enter
entry: {segment: vip}
reentry: always
nodes:
  done: {exit: {}}
"""
ON_LEAVE = """
journey: vip-leave
entry: {segment: vip, on: leave}
reentry: always
nodes:
  done: {exit: {}}
"""
CLICKED = """
journey: vip-clicks
entry: {event: clicked, where: "in_segment('vip')"}
events: {clicked: {}}
reentry: always
nodes:
  done: {exit: {}}
"""


def test_identify_makes_a_member_once_and_leaving_fires_the_leave_entry(runtime: Runtime) -> None:
    runtime.segment("vip", "profile.traits.plan == 'pro'")
    for journey in (ON_ENTER, ON_LEAVE, CLICKED):
        runtime.publish(journey)
    runtime.identify("ana", plan="pro")
    runtime.identify("bo", plan="free")
    runtime.work()
    assert runtime.members("vip") == {"ana": T0}
    assert runtime.segments_in_state("ana") == {"vip"} and runtime.segments_in_state("bo") == set()
    assert runtime.entries("ana", "vip-enter") == 1 and runtime.entries("bo", "vip-enter") == 0

    # Still a member after more traits and more time: no second entry, the membership keeps its date.
    runtime.now += HOUR
    runtime.identify("ana", plan="pro", city="Lisboa")
    runtime.track("ana", "clicked")
    runtime.track("bo", "clicked")
    runtime.work()
    assert runtime.entries("ana", "vip-enter") == 1
    assert runtime.members("vip") == {"ana": T0}
    # in_segment() in an entry predicate sees the stored membership.
    assert runtime.entries("ana", "vip-clicks") == 1 and runtime.entries("bo", "vip-clicks") == 0

    runtime.now += HOUR
    runtime.identify("ana", plan="free")
    runtime.track("ana", "clicked")  # after the identify in the log: no longer a member when it is judged
    runtime.work()
    assert runtime.members("vip") == {}
    assert runtime.entries("ana", "vip-leave") == 1 and runtime.entries("ana", "vip-enter") == 1
    assert runtime.entries("ana", "vip-clicks") == 1

    runtime.now += HOUR
    runtime.identify("ana", plan="pro")
    runtime.work()
    assert runtime.members("vip") == {"ana": T0 + 3 * HOUR}
    assert runtime.entries("ana", "vip-enter") == 2 and runtime.entries("ana", "vip-leave") == 1


def test_a_segment_over_another_segment_follows_it_in_the_same_step(runtime: Runtime) -> None:
    runtime.segment("vip", "profile.traits.plan == 'pro'")
    runtime.segment("vip_in_spain", "in_segment('vip') and profile.traits.country == 'ES'")
    runtime.identify("ana", plan="pro", country="ES")
    runtime.work()
    assert set(runtime.members("vip_in_spain")) == {"ana"}
    runtime.identify("ana", plan="free")
    runtime.work()
    assert runtime.members("vip") == {} and runtime.members("vip_in_spain") == {}
    assert runtime.segments_in_state("ana") == set()


def test_a_time_based_rule_lets_the_customer_go_once_its_window_passes(runtime: Runtime) -> None:
    runtime.segment("buyers", "count('order_completed', within='7d') > 0", refresh=HOUR)
    runtime.publish(ON_LEAVE.replace("vip", "buyers"))
    runtime.track("ana", "order_completed")
    runtime.identify("bo", plan="free")
    runtime.work()
    assert set(runtime.members("buyers")) == {"ana"}

    runtime.now += 6 * DAY + 23 * HOUR  # still inside the window: the refresh finds nothing to change
    runtime.work()
    assert set(runtime.members("buyers")) == {"ana"}
    assert runtime.entries("ana", "buyers-leave") == 0

    runtime.now = T0 + 7 * DAY + 2 * HOUR  # the order is older than 7 days, and a refresh is due
    runtime.work()
    assert runtime.members("buyers") == {}
    assert runtime.segments_in_state("ana") == set()
    assert runtime.entries("ana", "buyers-leave") == 1
    runtime.now += 2 * HOUR  # later refreshes change nothing more
    runtime.work()
    assert runtime.entries("ana", "buyers-leave") == 1


def test_a_new_rule_judges_every_customer_and_a_deleted_segment_lets_its_members_go(runtime: Runtime) -> None:
    runtime.publish(ON_ENTER)
    runtime.publish(ON_LEAVE)
    customers = [f"c{i}" for i in range(8)]  # more than a walk's batch (3 in these tests)
    for i, customer in enumerate(customers):
        runtime.identify(customer, score=i)
    runtime.work()
    runtime.segment("vip", "profile.traits.score >= 3")  # customers who already have the trait enter
    walked = []
    while not (report := runtime.worker.tick(runtime.now)).idle:
        walked.append(report.walked)
    assert max(walked) == 3 and sum(walked) >= len(customers)  # a tick looks at one batch at most
    assert set(runtime.members("vip")) == set(customers[3:])
    assert [runtime.entries(c, "vip-enter") for c in customers] == [0, 0, 0, 1, 1, 1, 1, 1]

    runtime.segment("vip", "profile.traits.score >= 6")  # a changed rule: everyone is judged again
    runtime.work()
    assert set(runtime.members("vip")) == set(customers[6:])
    assert [runtime.entries(c, "vip-leave") for c in customers] == [0, 0, 0, 1, 1, 1, 0, 0]

    runtime.catalog.delete_segment(WORKSPACE, "vip", actor=CLI, at=runtime.now)
    runtime.work()
    assert runtime.members("vip") == {}
    assert all(runtime.segments_in_state(c) == set() for c in customers)
    assert [runtime.entries(c, "vip-leave") for c in customers] == [0, 0, 0, 1, 1, 1, 1, 1]


SCHEDULED = """
journey: morning
entry: {schedule: {cron: "0 9 * * *", timezone: UTC, audience: vip}}
reentry: always
nodes:
  done: {exit: {}}
"""


def test_a_schedule_fires_once_per_cron_time_for_the_audience_across_a_restart(runtime: Runtime) -> None:
    runtime.segment("vip", "profile.traits.plan == 'pro'")
    runtime.publish(SCHEDULED)
    for customer, plan in (("ana", "pro"), ("bo", "free"), ("cy", "pro"), ("di", "pro"), ("ed", "pro")):
        runtime.identify(customer, plan=plan)
    runtime.work()  # 08:00: the schedule is seen for the first time; its 09:00 of yesterday counts as done
    assert runtime.entries("ana", "morning") == 0

    runtime.now = T0 + HOUR + 30 * 60  # 09:30
    runtime.work()
    fired = {c: runtime.entries(c, "morning") for c in ("ana", "bo", "cy", "di", "ed")}
    assert fired == {"ana": 1, "bo": 0, "cy": 1, "di": 1, "ed": 1}

    runtime.restart()
    runtime.now += 10 * 60
    runtime.work()
    assert {c: runtime.entries(c, "morning") for c in fired} == fired

    # Down over the next two firings: the missed firings are delivered once, as the latest of them.
    runtime.restart()
    runtime.now = T0 + 2 * DAY + 2 * HOUR  # two days later, 10:00
    runtime.work()
    assert {c: runtime.entries(c, "morning") for c in fired} == {"ana": 2, "bo": 0, "cy": 2, "di": 2, "ed": 2}


def test_a_paused_journey_skips_its_firings(runtime: Runtime) -> None:
    runtime.segment("vip", "profile.traits.plan == 'pro'")
    runtime.publish(SCHEDULED)
    runtime.identify("ana", plan="pro")
    runtime.work()
    runtime.lifecycle("morning", "pause")
    runtime.now = T0 + HOUR + 60
    runtime.work()
    runtime.lifecycle("morning", "resume")
    runtime.now += HOUR
    runtime.work()
    assert runtime.entries("ana", "morning") == 0  # the 09:00 firing fell while paused
    runtime.now = T0 + DAY + HOUR + 60
    runtime.work()
    assert runtime.entries("ana", "morning") == 1


def test_a_merge_leaves_the_survivor_with_the_memberships_its_merged_profile_earns(runtime: Runtime) -> None:
    runtime.segment("vip", "profile.traits.plan == 'pro'")
    runtime.segment("spain", "profile.traits.country == 'ES'")
    runtime.segment("complete", "exists(profile.traits.plan) and exists(profile.traits.country)")
    runtime.identify("ana", plan="pro")
    runtime.identify("x1", country="ES")
    runtime.work()
    assert set(runtime.members("vip")) == {"ana"} and set(runtime.members("spain")) == {"x1"}
    message = merge_message("ana", "x1", "identify", "m-link", runtime.now)
    runtime.store.append_events(
        WORKSPACE, [NewEvent(message["messageId"], "ana", T0, T0, orjson.dumps(message))]
    )
    runtime.now += HOUR
    runtime.work()
    assert runtime.segments_in_state("ana") == {"vip", "spain", "complete"}
    for segment in ("vip", "spain", "complete"):
        assert set(runtime.members(segment)) == {"ana"}, segment
    assert runtime.members("complete") == {"ana": T0 + HOUR}
    assert runtime.store.load_state(WORKSPACE, "x1") is None
