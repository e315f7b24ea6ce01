"""The loop the simulator stands on: history generated from a known model, a model learned from that
history, and simulations of the learned model that recover the known model's conversion rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rumbo.simulate.compare import simulate
from rumbo.simulate.learn import fit_model
from rumbo.simulate.model import BehaviourModel
from rumbo.simulate.simulator import Settings, generate_history
from tests.simulate.known import JOURNEY, journey, known_model


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> tuple[BehaviourModel, BehaviourModel, Path]:
    tmp = tmp_path_factory.mktemp("known")
    truth = known_model(lift=0.3)
    history = generate_history(
        truth, [journey(tmp, JOURNEY, "reminder")], Settings(customers=3000, days=60, seed=5)
    )
    return truth, fit_model(history, conversion="order"), tmp


def test_the_learned_model_recovers_the_message_lift_and_the_segments(
    learned: tuple[BehaviourModel, BehaviourModel, Path],
) -> None:
    _, model, _ = learned
    assert sorted(model.segments) == ["eager", "slow"]
    draws = [model.draw(seed).responses["email/reminder"].lift for seed in range(200)]
    low, high = np.quantile(draws, [0.025, 0.975])
    assert low <= 0.3 <= high, (low, high)
    share = model.segments["eager"].customers / sum(s.customers for s in model.segments.values())
    assert abs(share - 0.4) < 0.05
    # The eager segment buys after half its carts; the chain learned from unmessaged moments says so.
    cart = model.segments["eager"].transitions["cart"]
    assert abs(cart["order"] / sum(cart.values()) - 0.5) < 0.06


def test_simulating_the_learned_model_recovers_the_known_conversion_rates(
    learned: tuple[BehaviourModel, BehaviourModel, Path],
) -> None:
    truth_model, model, tmp = learned
    draft = journey(tmp, JOURNEY, "reminder")
    truth = simulate(truth_model, [draft], [], Settings(customers=3000, days=30, runs=3, seed=11))
    predicted = simulate(model, [draft], [], Settings(customers=1000, days=30, runs=8, seed=3))
    true_rate = truth.journey("cart-reminder").rate
    predicted_rate = predicted.journey("cart-reminder").rate
    assert true_rate is not None and predicted_rate is not None
    assert predicted_rate.contains(true_rate.mean), (predicted_rate, true_rate)
    assert predicted.treated_conversions.contains(truth.treated_conversions.mean)
    assert predicted.holdout_conversions.contains(truth.holdout_conversions.mean)
    assert predicted.uplift.low > 0, "a reminder with a known lift of 0.3 is predicted to help"
