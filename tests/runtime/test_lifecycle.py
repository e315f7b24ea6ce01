"""The journey lifecycle in the running platform, on SQLite and PostgreSQL: pause holds runs and their
timers and resume continues them; stop ends runs; a publish drains, migrates or stops the runs in flight,
reaching customers who send nothing."""

from __future__ import annotations

from tests.runtime.conftest import DAY, HOUR, T0, Runtime

NURTURE = """
journey: nurture
entry: {event: signed_up}
events: {signed_up: {}, clicked: {}}
reentry: always
on: [{event: clicked, goto: clicked_it}]
nodes:
  first: {wait: {for: 1d}, next: second}
  second: {update: {set: {nurtured: true}}, next: rest}
  rest: {wait: {for: 30d}, next: done}
  clicked_it: {update: {set: {clicked: true}}, next: rest}
  done: {exit: {}}
"""


def traits(runtime: Runtime, customer: str) -> dict[str, object]:
    from rumbo.runtime.codec import decode

    stored = runtime.store.load_state("w", customer)
    assert stored is not None
    return decode(customer, stored.state).traits


def test_pause_holds_runs_and_timers_and_resume_continues_them(runtime: Runtime) -> None:
    runtime.publish(NURTURE)
    runtime.track("ana", "signed_up")
    runtime.work()
    assert runtime.runs("ana") == [("nurture", 1, "first")]

    runtime.lifecycle("nurture", "pause")
    runtime.now += HOUR
    runtime.track("bo", "signed_up")  # no entry while paused
    runtime.track("ana", "clicked")  # the jump would move the run: it holds where it is
    runtime.now += 2 * DAY  # the wait ends during the pause: its timer is held, not fired
    runtime.work()
    assert runtime.runs("bo") == []
    assert runtime.runs("ana") == [("nurture", 1, "first")]
    assert runtime.timers("ana") == [("wait", "nurture")]
    assert "clicked" not in traits(runtime, "ana")

    runtime.now += DAY
    runtime.lifecycle("nurture", "resume")
    runtime.work()
    assert runtime.runs("ana") == [("nurture", 1, "rest")]  # the held timer fired at resume
    assert runtime.timers("ana") == [("wait", None)]
    assert traits(runtime, "ana")["nurtured"] is True
    assert runtime.transitions("ana", "nurture")[-2:] == [
        ("nurture", 1, "first", "second", "next"),
        ("nurture", 1, "second", "rest", "next"),
    ]
    runtime.track("bo", "signed_up")  # entries are admitted again
    runtime.work()
    assert runtime.runs("bo") == [("nurture", 1, "first")]


def test_stop_ends_every_run_and_admits_no_one(runtime: Runtime) -> None:
    runtime.publish(NURTURE)
    customers = [f"c{i}" for i in range(7)]  # more than a walk's batch: the stop reaches them in batches
    for customer in customers:
        runtime.track(customer, "signed_up")
    runtime.work()
    runtime.now += 2 * DAY
    runtime.work()
    assert all(runtime.runs(c) == [("nurture", 1, "rest")] for c in customers)

    runtime.lifecycle("nurture", "stop")
    runtime.now += HOUR
    runtime.work()
    for customer in customers:
        assert runtime.runs(customer) == []
        assert runtime.transitions(customer)[-1] == ("nurture", 1, "rest", None, "stopped")
        assert runtime.timers(customer) == []
    runtime.track("c0", "signed_up")
    runtime.work()
    assert runtime.runs("c0") == []
    runtime.lifecycle("nurture", "archive")
    runtime.work()
    assert runtime.runs("c0") == []


def test_publish_migrates_drains_or_stops_the_runs_in_flight(runtime: Runtime) -> None:
    runtime.publish(NURTURE)
    early = ["a1", "a2", "a3", "a4"]
    for customer in early:
        runtime.track(customer, "signed_up")
    runtime.work()

    # v2 renames `first` to `opening`: migrating maps the runs waiting there, their timers kept.
    v2 = NURTURE.replace("first:", "opening:")
    assert runtime.publish(v2, "migrate", {"first": "opening"}) == 2
    runtime.now += HOUR
    runtime.work()
    for customer in early:
        assert runtime.runs(customer) == [("nurture", 2, "opening")]
        assert runtime.transitions(customer)[-1] == ("nurture", 1, "first", "opening", "migrated")
        assert runtime.timers(customer) == [("wait", None)]

    # v3 drains: the v2 runs stay on v2, new entries go to v3.
    assert runtime.publish(v2.replace("30d", "20d"), "drain") == 3
    runtime.track("b1", "signed_up")
    runtime.work()
    assert runtime.runs("a1") == [("nurture", 2, "opening")]
    assert runtime.runs("b1") == [("nurture", 3, "opening")]

    # The migrated wait ends when v1's did (the timer was kept), and the run carries on in v2.
    runtime.now = T0 + DAY + 1
    runtime.work()
    assert runtime.runs("a1") == [("nurture", 2, "rest")]

    # v4 stops everything older; a customer who enters afterwards is on v4 and stays.
    assert runtime.publish(v2.replace("30d", "10d"), "stop") == 4
    runtime.work()
    runtime.track("c1", "signed_up")
    runtime.work()
    for customer in [*early, "b1"]:
        assert runtime.runs(customer) == [], customer
        assert runtime.transitions(customer)[-1][-1] == "stopped"
    assert runtime.runs("c1") == [("nurture", 4, "opening")]


PARENT = """
journey: parent
entry: {event: pinged}
events: {pinged: {}}
reentry: always
nodes:
  mark: {update: {increment: {pings: 1}}, next: call}
  call: {emit: {start_journey: child}, next: done}
  done: {exit: {}}
"""
CHILD = """
journey: child
entry: [{api: true}]
nodes:
  hold: {wait: {for: 1d}, next: done}
  done: {exit: {}}
"""


def test_a_paused_sub_flow_is_not_started_and_its_caller_carries_on(runtime: Runtime) -> None:
    runtime.publish(CHILD)
    runtime.publish(PARENT)
    runtime.lifecycle("child", "pause")
    runtime.track("ana", "pinged")
    runtime.work()
    assert runtime.runs("ana") == []
    assert traits(runtime, "ana")["pings"] == 1  # the input was applied, only the start was not
    assert runtime.entries("ana", "parent") == 1 and runtime.entries("ana", "child") == 0
    runtime.lifecycle("child", "resume")
    runtime.track("ana", "pinged")
    runtime.work()
    assert runtime.runs("ana") == [("child", 1, "hold")]
