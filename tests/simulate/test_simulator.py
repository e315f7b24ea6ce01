"""The simulator drives the real engine: the gate's caps hold, holdout customers never meet the draft,
runs repeat exactly for a seed, and what the model says about messages feeds back into behaviour."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rumbo.engine.commands import Send
from rumbo.engine.policy import Cap, Policy
from rumbo.engine.rand import unit
from rumbo.engine.state import Customer
from rumbo.engine.step import Engine
from rumbo.simulate.compare import compare_reports, simulate
from rumbo.simulate.simulator import Settings, Simulator, generate_history
from tests.simulate.known import DAY, JOURNEY, NAGGING, SILENT, journey, known_model


def test_sends_obey_the_gates_frequency_caps(tmp_path: Path) -> None:
    nagging = journey(tmp_path, NAGGING, "nagging")
    policy = Policy(workspace="simulation", caps=(Cap(2, 7 * DAY), Cap(1, DAY)), quiet_hours=None)
    settings = Settings(customers=200, days=21, runs=1, seed=2, holdout=0.0, policy=policy)
    history = generate_history(known_model(), [nagging], settings)
    per_customer: dict[str, list[float]] = defaultdict(list)
    for delivery in history.deliveries:
        per_customer[delivery.customer].append(delivery.at)
    assert per_customer, "customers with consent were sent something"
    for times in per_customer.values():
        times.sort()
        for i, at in enumerate(times):
            assert sum(1 for t in times[i:] if t - at < DAY) <= 1
            assert sum(1 for t in times[i:] if t - at < 7 * DAY) <= 2
    tally = Simulator(known_model(), [nagging], (), settings).run(0)
    assert tally.suppressed[("nagging", "frequency_cap")] > 0
    assert tally.suppressed[("nagging", "no_consent")] > 0  # 30% of the known customers gave no email consent


def test_a_run_feeds_the_bare_engine_the_same_inputs_with_the_same_sends(tmp_path: Path) -> None:
    draft = journey(tmp_path, JOURNEY, "reminder")
    simulator = Simulator(known_model(), [draft], (), Settings(customers=100, days=20, runs=1, seed=4))
    simulator.record_inputs()
    tally = simulator.run(0)
    assert simulator.recorded is not None and len(simulator.recorded) == tally.inputs
    engine = Engine([draft], simulator.settings.policy)
    customers: dict[str, Customer] = {}
    sends = 0
    for customer_id, inp, now in simulator.recorded:
        state = customers.get(customer_id) or Customer(customer_id)
        result = engine.step(state, inp, now)
        customers[customer_id] = result.customer
        sends += sum(1 for c in result.commands if isinstance(c, Send))
    # Holdout customers ran on an engine without the draft, so the bare replay may send a little more.
    assert sends >= sum(tally.sends.values()) > 0


def test_holdout_customers_never_enter_the_draft(tmp_path: Path) -> None:
    draft = journey(tmp_path, JOURNEY, "reminder")
    settings = Settings(customers=300, days=20, runs=1, seed=4, holdout=0.5)
    history = generate_history(known_model(), [draft], settings)
    held = {c for c in history.traits if unit(settings.seed, c, "holdout") < 0.5}
    assert held and not held & {d.customer for d in history.deliveries}


def test_the_same_seed_gives_the_same_report_and_another_seed_does_not(tmp_path: Path) -> None:
    draft = journey(tmp_path, JOURNEY, "reminder")
    first = simulate(known_model(), [draft], [], Settings(customers=150, days=14, runs=3, seed=9))
    again = simulate(known_model(), [draft], [], Settings(customers=150, days=14, runs=3, seed=9))
    other = simulate(known_model(), [draft], [], Settings(customers=150, days=14, runs=3, seed=10))
    assert first.to_dict() == again.to_dict()
    assert first.to_dict() != other.to_dict()


def test_messages_that_work_change_what_customers_do_and_the_better_draft_wins(tmp_path: Path) -> None:
    reminder, silent = journey(tmp_path, JOURNEY, "reminder"), journey(tmp_path, SILENT, "silent")
    settings = Settings(customers=600, days=30, runs=6, seed=1)
    a = simulate(known_model(lift=0.5), [silent], [], settings)
    b = simulate(known_model(lift=0.5), [reminder], [], settings)
    comparison = compare_reports(a, b, "silent", "reminder")
    assert comparison.winner == "reminder"
    assert comparison.probability_b_wins == 1.0
    assert comparison.difference.low > 0
    assert "reminder is expected to win" in comparison.verdict
    # With no lift the reminder's runs convert at the rate of the silent draft: nothing is credited to it.
    none = simulate(known_model(lift=0.0), [reminder], [], settings).journey("cart-reminder").rate
    silent_rate = a.journey("cart-silent").rate
    assert none is not None and silent_rate is not None
    assert abs(none.mean - silent_rate.mean) < 0.05


def test_the_report_counts_sends_costs_and_collisions_with_live_journeys(tmp_path: Path) -> None:
    reminder, nagging = journey(tmp_path, JOURNEY, "reminder"), journey(tmp_path, NAGGING, "nagging")
    costs = {"email": 0.5}
    report = simulate(
        known_model(), [reminder], [nagging], Settings(customers=200, days=14, runs=2, costs=costs)
    )
    draft = report.journey("cart-reminder")
    assert draft.draft and not report.journey("nagging").draft
    assert draft.total_sends.mean > 0
    assert report.costs["email"].mean == 0.5 * (
        draft.total_sends.mean + report.journey("nagging").total_sends.mean
    )
    assert any(c.journey == "cart-reminder" and c.rival == "nagging" for c in report.collisions)
    assert {n.node for n in draft.nodes} == {"pause", "remind", "done"}
    as_dict = report.to_dict()
    assert as_dict["journeys"][0]["journey"] == "cart-reminder"
    assert set(as_dict["messages_per_customer_week"]) == {"mean", "low", "high"}


def test_a_live_journey_with_the_drafts_id_is_replaced_by_the_draft(tmp_path: Path) -> None:
    draft, live = journey(tmp_path, JOURNEY, "draft"), journey(tmp_path, JOURNEY, "live")
    nagging = journey(tmp_path, NAGGING, "nagging")
    simulator = Simulator(known_model(), [draft], [live, nagging], Settings(customers=10, days=2, runs=1))
    assert [j.id for j in simulator.live] == ["nagging"]
    assert sorted(simulator.engine.live) == ["cart-reminder", "nagging"]
    assert simulator.engine.live["cart-reminder"] is draft
    assert list(simulator.holdout_engine.live) == ["nagging"]
