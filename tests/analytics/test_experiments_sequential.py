"""The mSPRT keeps its promise under daily peeking, where the repeated z-test does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rumbo.analytics.sequential import mixture_likelihood_ratio, msprt
from rumbo.analytics.stats import two_proportion_test
from rumbo.errors import AnalyticsError

ALPHA = 0.05


def _aa_experiments(
    seed: int, sims: int, days: int, per_day: int, rate_control: float, rate_treatment: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative conversions per arm after each day, for `sims` independent experiments."""
    rng = np.random.default_rng(seed)
    xc = rng.binomial(per_day, rate_control, size=(sims, days)).cumsum(axis=1)
    xt = rng.binomial(per_day, rate_treatment, size=(sims, days)).cumsum(axis=1)
    n = per_day * np.arange(1, days + 1, dtype=np.float64)
    return xc, xt, np.broadcast_to(n, (sims, days))


def _naive_daily_z_rejects(xc: np.ndarray, xt: np.ndarray, n: np.ndarray) -> np.ndarray:
    pooled = (xc + xt) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * (2 / n))
    z = np.where(se > 0, (xt / n - xc / n) / np.where(se > 0, se, 1), 0.0)
    return np.asarray(np.any(np.abs(z) > 1.959964, axis=1), dtype=bool)


def test_daily_peeking_inflates_the_z_test_but_not_the_msprt() -> None:
    # 1,000 A/A experiments (both arms convert at 10%), 30 daily looks of 200 runs per arm per day.
    xc, xt, n = _aa_experiments(
        seed=20261123, sims=1000, days=30, per_day=200, rate_control=0.1, rate_treatment=0.1
    )
    naive_error = float(np.mean(_naive_daily_z_rejects(xc, xt, n)))
    lam = mixture_likelihood_ratio(xc, n, xt, n, tau=0.02)
    msprt_error = float(np.mean(np.any(lam >= 1 / ALPHA, axis=1)))
    # With 30 looks the repeated z-test rejects a true null in roughly a quarter of experiments
    # (Armitage, McPherson & Rowe 1969 give ~0.25 for 25 looks, ~0.30 for 50).
    assert naive_error > 0.15
    assert msprt_error <= ALPHA


def test_msprt_still_finds_a_real_lift() -> None:
    # 10% against 13% with 500 runs per arm per day for 30 days: the mSPRT should nearly always stop.
    xc, xt, n = _aa_experiments(
        seed=7, sims=300, days=30, per_day=500, rate_control=0.10, rate_treatment=0.13
    )
    lam = mixture_likelihood_ratio(xc, n, xt, n, tau=0.02)
    assert float(np.mean(np.any(lam >= 1 / ALPHA, axis=1))) > 0.9


def test_msprt_p_value_is_the_running_minimum_of_one_over_lambda() -> None:
    # One look by hand: p_c = 0.10, p_t = 0.13 with 1,000 runs each, τ = 0.02.
    # V = 0.09/1000 + 0.1131/1000 = 0.0002031; τ² = 0.0004; θ̂ = 0.03.
    # Λ = sqrt(V/(V+τ²)) · exp(θ̂² τ² / (2 V (V+τ²))) = sqrt(0.336760) · exp(3.6e-7 / 2.449792e-7)
    #   = 0.580310 · exp(1.469512) = 0.580310 · 4.347115 = 2.522676.
    one = msprt([100], [1000], [130], [1000], tau=0.02)
    assert one.p_value == pytest.approx(1 / 2.522676, rel=1e-5)
    # A later look with weaker evidence cannot raise the always-valid p-value.
    two = msprt([100, 200], [1000, 2000], [130, 200], [1000, 2000], tau=0.02)
    assert two.p_value == pytest.approx(one.p_value)


def test_msprt_interval_is_wider_than_the_fixed_horizon_one_and_contains_the_estimate() -> None:
    result = msprt([1000], [10_000], [1100], [10_000], tau=0.01)
    fixed = two_proportion_test(1000, 10_000, 1100, 10_000)
    low, high = result.ci
    assert low < 0.01 < high
    assert low < fixed.absolute_ci[0] and high > fixed.absolute_ci[1]
    # Half-width by hand: V = 0.09/1e4 + 0.0979/1e4 = 1.879e-5, τ² = 1e-4,
    # sqrt(V (V+τ²)/τ² · (2 ln 20 + ln((V+τ²)/V))) = sqrt(2.232064e-5 · (5.991465 + 1.844032)) = 0.0132247.
    assert (high - low) / 2 == pytest.approx(0.0132247, rel=1e-4)


def test_msprt_refuses_a_non_positive_tau() -> None:
    with pytest.raises(AnalyticsError, match="tau"):
        msprt([1], [10], [2], [10], tau=0.0)


def test_a_look_without_runs_carries_no_evidence() -> None:
    lam = mixture_likelihood_ratio([0, 10], [0, 100], [0, 20], [0, 100], tau=0.05)
    assert lam[0] == 1.0
    assert math.isfinite(float(lam[1])) and lam[1] > 1.0
