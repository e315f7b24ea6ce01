"""Delayed conversions and tiny first looks: the always-valid numbers must not lock in an early bias.

A journey's runs convert days after their split, and an experiment starts with a handful of runs per arm.
Counted naively — every run split so far, every conversion recorded so far — the first looks see arms full
of runs that cannot have converted yet, with plug-in variances near 0; the mSPRT's running minimum and
running intersection then keep that early, biased difference to the end. Here the runs are simulated like
the demo's cart-recovery split (10% holdout, a slow ramp to ~35 runs a day, 57% conversion within 14
days) with one twist that real journeys show: the treated arm converts sooner (a reminder makes people
buy now) but not more often. A true A/A test on the final conversion rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rumbo.analytics.experiments import ExperimentRuns, analyse_runs, windows_from_journeys

DAY = 86400.0
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "journeys"
ALPHA = 0.05


def _runs(seed: int, days: int = 90, rate: float = 0.57, ramp_days: int = 20) -> ExperimentRuns:
    """One experiment's runs as the archive holds them at the end of day `days`."""
    rng = np.random.default_rng(seed)
    per_day = 35.0 * np.minimum(1.0, (np.arange(days) + 1) / ramp_days)
    counts = rng.poisson(per_day)
    split_at = np.concatenate([d * DAY + np.sort(rng.uniform(0, DAY, c)) for d, c in enumerate(counts)])
    n = split_at.size
    variant = np.where(rng.uniform(size=n) < 0.1, "holdout", "A")
    converts = rng.uniform(size=n) < rate
    mean_delay = np.where(variant == "holdout", 4.0, 1.0) * DAY
    delay = np.minimum(rng.exponential(mean_delay), 14 * DAY - 1)
    converted_at = np.where(converts & (split_at + delay <= days * DAY), split_at + delay, np.nan)
    return ExperimentRuns(
        journey=["cart-recovery"] * n,
        node=["split"] * n,
        variant=variant.tolist(),
        split_at=split_at,
        converted_at=converted_at,
        value=np.zeros(n),
    )


def test_tiny_delayed_first_looks_do_not_fake_a_lift() -> None:
    # Counted naively, this experiment gave av_p = 0.0006 with an interval [0.129, 0.138] for a final lift
    # of 0.040 (z-test p = 0.21): the two first days held 3 holdout runs, none converted yet.
    runs = _runs(seed=1007)
    holdout_early = int(np.sum((np.asarray(runs.variant) == "holdout") & (runs.split_at < 2 * DAY)))
    assert holdout_early < 5
    (split,) = analyse_runs(runs).splits
    (a,) = split.comparisons
    assert a.fixed.absolute_lift == pytest.approx(0.0395, abs=5e-4)
    assert a.fixed.p_value == pytest.approx(0.208, abs=5e-3)
    low, high = a.sequential.ci
    assert low <= a.fixed.absolute_lift <= high
    assert low <= 0.0 <= high
    # The always-valid test is the more conservative one on the same data.
    assert a.sequential.p_value >= a.fixed.p_value


def test_type_one_error_stays_below_alpha_when_the_treated_arm_only_converts_sooner() -> None:
    results = [analyse_runs(_runs(seed)).splits[0].comparisons[0] for seed in range(200)]
    false_positives = np.mean([c.sequential.p_value <= ALPHA for c in results])
    covers_truth = np.mean([c.sequential.ci[0] <= 0.0 <= c.sequential.ci[1] for c in results])
    holds_final = np.mean(
        [c.sequential.ci[0] <= c.fixed.absolute_lift <= c.sequential.ci[1] for c in results]
    )
    assert false_positives <= ALPHA
    assert covers_truth >= 1 - ALPHA
    assert holds_final >= 1 - ALPHA


def _two_arms(split_days: list[float], converted_after: list[float | None], variant: str) -> ExperimentRuns:
    split_at = np.asarray(split_days) * DAY
    converted_at = np.asarray(
        [np.nan if d is None else s + d * DAY for s, d in zip(split_at, converted_after, strict=True)]
    )
    n = split_at.size
    return ExperimentRuns(["j"] * n, ["s"] * n, [variant] * n, split_at, converted_at, np.zeros(n))


def _concat(*parts: ExperimentRuns) -> ExperimentRuns:
    return ExperimentRuns(
        journey=[j for p in parts for j in p.journey],
        node=[n for p in parts for n in p.node],
        variant=[v for p in parts for v in p.variant],
        split_at=np.concatenate([p.split_at for p in parts]),
        converted_at=np.concatenate([p.converted_at for p in parts]),
        value=np.concatenate([p.value for p in parts]),
    )


def test_a_run_counts_once_its_window_has_closed_with_its_outcome_inside_the_window() -> None:
    # Two arms of three runs; the last record is the conversion on day 20. With a 7-day window, runs split
    # on days 0 and 10 are mature (0 + 7, 10 + 7 <= 20), the one split on day 19 is not. The day-0 control
    # run converted after 9 days: outside the window, so not a conversion to the always-valid test.
    runs = _concat(
        _two_arms([0.0, 10.0, 19.0], [9.0, 1.0, None], "holdout"),
        _two_arms([0.0, 10.0, 19.0], [2.0, 10.0, None], "A"),
    )
    (split,) = analyse_runs(runs, windows={"j": 7 * DAY}).splits
    assert (split.window, split.window_from_goal) == (7 * DAY, True)
    assert {a.variant: (a.runs, a.conversions, a.mature_runs) for a in split.arms} == {
        "holdout": (3, 2, 2),
        "A": (3, 2, 2),
    }
    counted = split.comparisons[0].sequential
    assert (counted.control_conversions, counted.control_runs) == (1, 2)
    assert (counted.treatment_conversions, counted.treatment_runs) == (1, 2)
    # Without a window given, the longest delay observed (10 days) stands in: the day-0 and day-10 runs are
    # mature (10 + 10 <= 20) and the late control conversion now counts; the day-19 runs still do not.
    (observed,) = analyse_runs(runs).splits
    assert (observed.window, observed.window_from_goal) == (10 * DAY, False)
    assert {a.variant: a.mature_runs for a in observed.arms} == {"holdout": 2, "A": 2}
    counted = observed.comparisons[0].sequential
    assert (counted.control_conversions, counted.control_runs) == (2, 2)
    assert (counted.treatment_conversions, counted.treatment_runs) == (2, 2)
    assert any("10.0 days, the longest delay observed" in note for note in analyse_runs(runs).notes())


def test_the_window_is_the_goals_within_from_the_journey_file() -> None:
    windows = windows_from_journeys([str(EXAMPLES / "cart-recovery.yaml")])
    assert windows == {"cart-recovery": 14 * DAY}
