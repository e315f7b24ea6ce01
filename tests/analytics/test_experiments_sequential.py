"""The mSPRT keeps its promise under daily peeking, where the repeated z-test does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rumbo.analytics.sequential import MIN_RUNS, mixture_likelihood_ratio, msprt
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
    # One look by hand: p_c = 0.10, p_t = 0.13 with 1,000 runs each, τ = 0.02. The variance is the null's,
    # from the pooled rate p̄ = 230/2000 = 0.115: V₀ = 0.115 · 0.885 · (2/1000) = 0.00020355; τ² = 0.0004.
    # Λ = sqrt(V₀/(V₀+τ²)) · exp(θ̂² τ² / (2 V₀ (V₀+τ²))) = sqrt(0.337255) · exp(3.6e-7 / 2.457052e-7)
    #   = 0.580736 · exp(1.465170) = 0.580736 · 4.328281 = 2.513590.
    one = msprt([100], [1000], [130], [1000], tau=0.02)
    assert one.p_value == pytest.approx(1 / 2.513590, rel=1e-5)
    # A later look with weaker evidence cannot raise the always-valid p-value.
    two = msprt([100, 200], [1000, 2000], [130, 200], [1000, 2000], tau=0.02)
    assert two.p_value == pytest.approx(one.p_value)


def test_msprt_interval_is_wider_than_the_fixed_horizon_one_and_contains_the_estimate() -> None:
    result = msprt([1000], [10_000], [1100], [10_000], tau=0.01)
    fixed = two_proportion_test(1000, 10_000, 1100, 10_000)
    low, high = result.ci
    assert low < 0.01 < high
    assert low < fixed.absolute_ci[0] and high > fixed.absolute_ci[1]
    # Half-width by hand, with the rates shrunk to 1001/10002 = 0.100080 and 1101/10002 = 0.110078:
    # V = (0.100080 · 0.899920 + 0.110078 · 0.889922) / 1e4 = 1.880248e-5, τ² = 1e-4,
    # sqrt(V (V+τ²)/τ² · (2 ln 20 + ln((V+τ²)/V))) = sqrt(2.233781e-5 · (5.991465 + 1.843473)) = 0.0132293.
    assert (high - low) / 2 == pytest.approx(0.0132293, rel=1e-4)


def test_msprt_refuses_a_non_positive_tau() -> None:
    with pytest.raises(AnalyticsError, match="tau"):
        msprt([1], [10], [2], [10], tau=0.0)


def test_a_look_without_runs_carries_no_evidence() -> None:
    lam = mixture_likelihood_ratio([0, 10], [0, 100], [0, 20], [0, 100], tau=0.05)
    assert lam[0] == 1.0
    assert math.isfinite(float(lam[1])) and lam[1] > 1.0


def test_an_arm_without_conversions_yet_does_not_make_the_evidence_explode() -> None:
    # A look seen on real data: the holdout's 11 runs all split in the last four days, none converted yet,
    # against 20 of 84 in arm A; τ = 0.057. The plug-in variance 0 + (20/84)(64/84)/84 = 0.00216 gave
    # 1/Λ = 0.0005. The null's variance from the pooled rate p̄ = 20/95 = 0.210526 cannot collapse:
    # V₀ = 0.210526 · 0.789474 · (1/11 + 1/84) = 0.0170882, θ̂ = 0.238095, τ² = 0.003249,
    # Λ = sqrt(0.0170882/0.0203372) · exp(0.238095² · 0.003249 / (2 · 0.0170882 · 0.0203372)) = 1.194779.
    one = msprt([0], [11], [20], [84], tau=0.057, min_runs=1)
    assert one.p_value == pytest.approx(1 / 1.194779, rel=1e-5)
    # And by default a look carries no evidence until every arm has MIN_RUNS runs.
    early = msprt([0], [11], [20], [84], tau=0.057)
    assert (early.p_value, early.ci) == (1.0, (-1.0, 1.0))
    assert MIN_RUNS > 11


def _ragged_aa_experiments(
    seed: int, sims: int, days: int, control_per_day: float, treatment_per_day: float, rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative conversions and runs per arm after each day; a Poisson number of runs arrives each day."""
    rng = np.random.default_rng(seed)
    runs_c = rng.poisson(control_per_day, size=(sims, days))
    runs_t = rng.poisson(treatment_per_day, size=(sims, days))
    xc = rng.binomial(runs_c, rate).cumsum(axis=1)
    xt = rng.binomial(runs_t, rate).cumsum(axis=1)
    return xc, runs_c.cumsum(axis=1), xt, runs_t.cumsum(axis=1)


def test_daily_peeking_with_tiny_first_looks_and_rare_conversions_stays_valid() -> None:
    # The hardest case for the normal approximation: 2% conversion, a holdout of about one run a day
    # against nine in the treated arm, 60 daily looks and a wide τ. A/A, so every rejection is false.
    # Counting looks from the first run on (min_runs=1) rejects in 5.6% of these; from MIN_RUNS on, 1.3%.
    xc, nc, xt, nt = _ragged_aa_experiments(
        seed=1, sims=2000, days=60, control_per_day=1.0, treatment_per_day=9.0, rate=0.02
    )
    lam = mixture_likelihood_ratio(xc, nc, xt, nt, tau=0.2)
    assert float(np.mean(np.any(lam >= 1 / ALPHA, axis=1))) <= ALPHA
    intervals = [msprt(xc[i], nc[i], xt[i], nt[i], tau=0.2).ci for i in range(300)]
    assert float(np.mean([low <= 0.0 <= high for low, high in intervals])) >= 1 - ALPHA


def test_an_empty_intersection_falls_back_to_the_last_looks_interval() -> None:
    # Two looks that disagree far beyond their widths (not something the model produces but by chance).
    result = msprt([100, 100], [1000, 2000], [100, 1100], [1000, 2000], tau=0.01)
    last = msprt([100], [2000], [1100], [2000], tau=0.01)
    assert result.ci == last.ci
    assert result.ci[0] < 1100 / 2000 - 100 / 2000 < result.ci[1]


@pytest.mark.parametrize("tau", [0.005, 0.05, 0.5])
def test_at_one_look_the_msprt_is_never_less_conservative_than_the_z_test(tau: float) -> None:
    # Both tests share the pooled z; 1/Λ(0) = sqrt((V₀+τ²)/V₀) · exp(-z² τ²/(2 (V₀+τ²))) is at least
    # 2Φ(-|z|) for every z and τ, and the interval's variance and multiplier both exceed the Wald interval's
    # (the always-valid interval is kept within [-1, 1], where a difference of rates lies).
    rng = np.random.default_rng(11)
    for _ in range(300):
        nc, nt = (int(v) for v in rng.integers(MIN_RUNS, 3000, size=2))
        xc, xt = int(rng.integers(0, nc + 1)), int(rng.integers(0, nt + 1))
        sequential = msprt([xc], [nc], [xt], [nt], tau=tau)
        fixed = two_proportion_test(xc, nc, xt, nt)
        assert sequential.p_value >= fixed.p_value - 1e-12
        low, high = max(-1.0, fixed.absolute_ci[0]), min(1.0, fixed.absolute_ci[1])  # a difference of rates
        assert sequential.ci[0] <= low and sequential.ci[1] >= high
