"""Fixed-horizon experiment statistics against values worked out by hand from the textbook formulas."""

from __future__ import annotations

import math

import pytest

from rumbo.analytics.stats import planned_sample_size, sample_ratio_mismatch, two_proportion_test
from rumbo.errors import AnalyticsError


def test_z_test_matches_the_hives_medication_textbook_example() -> None:
    # OpenStax Introductory Statistics, two population proportions: 20 of 200 on medication A and 12 of 200
    # on medication B still had hives. Pooled p = 32/400 = 0.08, SE = sqrt(0.08·0.92·(2/200)) = 0.027129,
    # z = 0.04 / 0.027129 = 1.4744, two-sided p = 0.1404.
    result = two_proportion_test(12, 200, 20, 200)
    assert result.z == pytest.approx(1.4744, abs=1e-4)
    assert result.p_value == pytest.approx(0.1404, abs=1e-4)
    assert result.absolute_lift == pytest.approx(0.04)


def test_wald_interval_for_the_difference_uses_the_unpooled_standard_error() -> None:
    # SE = sqrt(0.10·0.90/200 + 0.06·0.94/200) = sqrt(0.000732) = 0.0270555; 1.959964·SE = 0.0530277.
    result = two_proportion_test(12, 200, 20, 200)
    low, high = result.absolute_ci
    assert low == pytest.approx(0.04 - 0.0530277, abs=1e-6)
    assert high == pytest.approx(0.04 + 0.0530277, abs=1e-6)


def test_relative_lift_interval_is_the_delta_method_on_the_log_ratio() -> None:
    # ratio = 0.10/0.06 = 1.6667; SE(log ratio) = sqrt(0.94/12 + 0.90/20) = sqrt(0.078333 + 0.045) = 0.351188;
    # log(1.6667) = 0.510826; bounds exp(0.510826 ∓ 1.959964·0.351188) - 1
    #   = exp(-0.177490) - 1, exp(1.199142) - 1.
    result = two_proportion_test(12, 200, 20, 200)
    assert result.relative_lift == pytest.approx(2 / 3)
    assert result.relative_ci is not None
    assert result.relative_ci[0] == pytest.approx(math.exp(-0.177490) - 1, abs=1e-5)
    assert result.relative_ci[1] == pytest.approx(math.exp(1.199142) - 1, abs=1e-5)


def test_identical_arms_give_no_evidence() -> None:
    result = two_proportion_test(50, 1000, 50, 1000)
    assert result.z == 0.0
    assert result.p_value == pytest.approx(1.0)


def test_planned_sample_size_for_ten_versus_fifteen_percent() -> None:
    # p1 = 0.10, p2 = 0.15, p̄ = 0.125, α = 0.05 two-sided, power 0.8:
    # (1.959964·sqrt(2·0.125·0.875) + 0.841621·sqrt(0.09 + 0.1275))² / 0.05²
    #   = 1.713979 / 0.0025 = 685.6 -> 686.
    assert planned_sample_size(0.10, 0.5) == 686


def test_planned_sample_size_refuses_a_lift_beyond_certainty() -> None:
    with pytest.raises(AnalyticsError, match="choose a smaller"):
        planned_sample_size(0.6, 1.0)


def test_srm_flags_a_52_48_split_configured_as_50_50_at_large_n() -> None:
    # 52,000 vs 48,000 against 50,000 each: chi² = 2·2000²/50000 = 160, far beyond any threshold.
    check = sample_ratio_mismatch({"A": 52_000, "B": 48_000}, {"A": 50, "B": 50})
    assert check.chi2 == pytest.approx(160.0)
    assert check.mismatch
    assert check.p_value < 1e-30


def test_srm_accepts_ordinary_noise_around_the_configured_weights() -> None:
    # 5,040 vs 4,960 against 5,000 each: chi² = 2·40²/5000 = 0.64, p = 0.4237 (chi² with 1 df).
    check = sample_ratio_mismatch({"A": 5_040, "B": 4_960}, {"A": 1, "B": 1})
    assert check.chi2 == pytest.approx(0.64)
    assert check.p_value == pytest.approx(0.4237, abs=1e-4)
    assert not check.mismatch


def test_srm_uses_unequal_weights_with_a_holdout() -> None:
    # weights 45/45/10 of 10,000 runs expect 4,500/4,500/1,000; observed 4,500/4,400/1,100:
    # chi² = 0 + 100²/4500 + 100²/1000 = 2.2222 + 10 = 12.2222, 2 df, p = exp(-12.2222/2) = 0.002218.
    check = sample_ratio_mismatch(
        {"A": 4_500, "B": 4_400, "holdout": 1_100}, {"A": 45, "B": 45, "holdout": 10}
    )
    assert check.chi2 == pytest.approx(12.2222, abs=1e-4)
    assert check.p_value == pytest.approx(0.002218, abs=1e-6)
    assert not check.mismatch  # above the strict 0.001 threshold


def test_srm_refuses_an_arm_without_a_weight() -> None:
    with pytest.raises(AnalyticsError, match="no configured weight"):
        sample_ratio_mismatch({"A": 10, "C": 3}, {"A": 1, "B": 1})
