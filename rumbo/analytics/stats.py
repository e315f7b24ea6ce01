"""Fixed-horizon statistics for conversion experiments: the tests an analyst already knows.

Everything here works on counts (conversions `x` out of `n` runs) so it can be checked by hand against a
textbook. The anytime-valid counterpart, for people who look at results every day, is in
`rumbo.analytics.sequential`.

Runs are not independent when one customer makes many of them: the journey engine assigns the arm per
customer, and a customer who re-enters brings every run to the same arm and converts (or not) in the same
way each time. Each arm's variance is then its binomial variance times the arm's design effect, estimated
from its customers (`design_effect`); with one run per customer the design effect is 1 and every figure
here is the textbook one.

- `design_effect`: how much clustering runs by customer inflates the variance of an arm's rate.
- `two_proportion_test`: the pooled two-proportion z-test, the unpooled Wald interval for the absolute
  difference, and a delta-method interval for the relative lift.
- `planned_sample_size`: runs per arm needed to detect a given lift — the horizon the z-test assumes.
- `sample_ratio_mismatch`: chi-square goodness of fit of the units per arm (customers, the unit the engine
  randomises) against the configured weights; a mismatch means the assignment or the logging is broken and
  the comparison cannot be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as _scipy_stats

from rumbo.errors import AnalyticsError


def normal_quantile(p: float) -> float:
    """The standard normal quantile, e.g. 0.975 -> 1.95996."""
    return float(_scipy_stats.norm.ppf(p))


def normal_two_sided_p(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return float(2.0 * _scipy_stats.norm.sf(abs(z)))


def design_effect(
    conversions: npt.ArrayLike,
    runs: npt.ArrayLike,
    runs_squared: npt.ArrayLike,
    cross: npt.ArrayLike,
    conversions_squared: npt.ArrayLike,
    *,
    rate: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float64]:
    """How many times the variance of an arm's rate p̂ = x/n exceeds the binomial p̂(1 - p̂)/n when its runs
    are clustered by customer; never below 1.

    Customer i has n_i runs in the arm, x_i of them converted; the arguments are x = Σ x_i, n = Σ n_i,
    Σ n_i², Σ x_i n_i and Σ x_i² (arrays of them give an array). The cluster-robust (delta-method) variance
    of the ratio x/n is Σ_i (x_i - p n_i)² / n², the residuals taken at a rate p; divided by the same sum
    over runs taken one by one, that is

        deff = (Σ x_i² - 2 p Σ x_i n_i + p² Σ n_i²) / (x - 2 p x + p² n),

    exactly 1 when every customer has one run. `rate` is p: by default the arm's own rate p̂, where the
    denominator is n p̂ (1 - p̂), the binomial variance; a test of "no difference" passes the pooled rate of
    both arms, the rate under that null, which in simulation keeps the z-test's false positives nearer α
    with few, very uneven customers. It is floored at 1: customers whose runs disagree more than chance
    would (deff < 1) are rare, and a variance below the binomial one would overstate the evidence. An arm
    whose residuals are all 0 has deff 1.
    """
    x = np.asarray(conversions, dtype=np.float64)
    n = np.asarray(runs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(n > 0, x / np.where(n > 0, n, 1.0), 0.0)
        p = own if rate is None else np.asarray(rate, dtype=np.float64)
        binomial = x - 2 * p * x + p * p * n
        clustered = (
            np.asarray(conversions_squared, dtype=np.float64)
            - 2 * p * np.asarray(cross, dtype=np.float64)
            + p * p * np.asarray(runs_squared, dtype=np.float64)
        )
        deff = np.where(binomial > 0, clustered / np.where(binomial > 0, binomial, 1.0), 1.0)
    return np.asarray(np.maximum(deff, 1.0), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class ProportionComparison:
    """Treatment against control: rates, differences, intervals and the fixed-horizon z-test."""

    control_rate: float
    treatment_rate: float
    absolute_lift: float  # treatment_rate - control_rate
    absolute_ci: tuple[float, float]  # Wald interval, unpooled standard error
    relative_lift: float | None  # treatment_rate / control_rate - 1; None when the control never converted
    relative_ci: tuple[float, float] | None  # delta method on log(rate ratio)
    z: float  # pooled two-proportion z statistic
    p_value: float  # two-sided


def _check_counts(x: int, n: int, what: str) -> None:
    if n <= 0:
        raise AnalyticsError(f"{what} has no runs (n={n}) — an arm needs at least one run to be compared")
    if x < 0 or x > n:
        raise AnalyticsError(f"{what} has {x} conversions out of {n} runs — conversions must be in 0..n")


# One arm's runs grouped by customer: (Σ n_i², Σ x_i n_i, Σ x_i²) over its customers i, customer i with n_i
# runs in the arm of which x_i converted. Runs that are each their own customer give (n, x, x).
CustomerSums = tuple[float, float, float]


def two_proportion_test(
    x_control: int,
    n_control: int,
    x_treatment: int,
    n_treatment: int,
    alpha: float = 0.05,
    *,
    control_sums: CustomerSums | None = None,
    treatment_sums: CustomerSums | None = None,
) -> ProportionComparison:
    """Compare two conversion rates at a fixed horizon.

    The test statistic uses the pooled rate (the standard error under the null of equal rates); the interval
    uses the unpooled standard error, as the Wald interval for a difference does. The relative lift's
    interval is built on log(p_t / p_c), whose sampling distribution is closer to normal than the ratio's.

    With each arm's `CustomerSums` (default: every run its own customer) each arm's variance is multiplied
    by its design effect (`design_effect`): taken at the pooled rate for the test, at the arm's own rate for
    the intervals.
    """
    _check_counts(x_control, n_control, "control")
    _check_counts(x_treatment, n_treatment, "treatment")
    sums_c = control_sums if control_sums is not None else (n_control, x_control, x_control)
    sums_t = treatment_sums if treatment_sums is not None else (n_treatment, x_treatment, x_treatment)
    p_c = x_control / n_control
    p_t = x_treatment / n_treatment
    diff = p_t - p_c
    z_crit = normal_quantile(1.0 - alpha / 2.0)

    pooled = (x_control + x_treatment) / (n_control + n_treatment)
    null_c = float(design_effect(x_control, n_control, *sums_c, rate=pooled))
    null_t = float(design_effect(x_treatment, n_treatment, *sums_t, rate=pooled))
    se_pooled = math.sqrt(pooled * (1.0 - pooled) * (null_c / n_control + null_t / n_treatment))
    deff_control = float(design_effect(x_control, n_control, *sums_c))
    deff_treatment = float(design_effect(x_treatment, n_treatment, *sums_t))
    if se_pooled > 0:
        z = diff / se_pooled
        p_value = normal_two_sided_p(z)
    else:  # both arms all-converted or none converted: no evidence of any difference
        z, p_value = 0.0, 1.0

    se = math.sqrt(
        deff_control * p_c * (1.0 - p_c) / n_control + deff_treatment * p_t * (1.0 - p_t) / n_treatment
    )
    absolute_ci = (diff - z_crit * se, diff + z_crit * se)

    relative: float | None = None
    relative_ci: tuple[float, float] | None = None
    if p_c > 0:
        relative = p_t / p_c - 1.0
        if p_t > 0:
            se_log = math.sqrt(
                deff_control * (1.0 - p_c) / x_control + deff_treatment * (1.0 - p_t) / x_treatment
            )
            log_ratio = math.log(p_t / p_c)
            relative_ci = (
                math.exp(log_ratio - z_crit * se_log) - 1.0,
                math.exp(log_ratio + z_crit * se_log) - 1.0,
            )
    return ProportionComparison(
        control_rate=p_c,
        treatment_rate=p_t,
        absolute_lift=diff,
        absolute_ci=absolute_ci,
        relative_lift=relative,
        relative_ci=relative_ci,
        z=z,
        p_value=p_value,
    )


def planned_sample_size(
    baseline_rate: float, relative_mde: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Runs per arm for a two-sided two-proportion z-test to detect `relative_mde` with `power`, for
    independent runs (multiply by the design effect when customers make several runs each).

    The usual normal-approximation formula (Fleiss, without continuity correction):
    n = (z_{1-α/2} √(2 p̄ (1-p̄)) + z_{1-β} √(p1(1-p1) + p2(1-p2)))² / (p2 - p1)², p̄ the mean of the rates.
    """
    if not 0.0 < baseline_rate < 1.0:
        raise AnalyticsError(
            f"baseline conversion rate {baseline_rate!r} is not strictly between 0 and 1 — "
            "a sample size can only be planned for a rate that can still move"
        )
    p1 = baseline_rate
    p2 = baseline_rate * (1.0 + relative_mde)
    if relative_mde == 0 or not 0.0 < p2 < 1.0:
        raise AnalyticsError(
            f"a relative lift of {relative_mde!r} on a rate of {baseline_rate:.4g} gives {p2:.4g}, "
            "which is not a different rate between 0 and 1 — choose a smaller, non-zero minimum effect"
        )
    p_bar = (p1 + p2) / 2.0
    z_a = normal_quantile(1.0 - alpha / 2.0)
    z_b = normal_quantile(power)
    numerator = z_a * math.sqrt(2.0 * p_bar * (1.0 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(numerator**2 / (p2 - p1) ** 2)


@dataclass(frozen=True, slots=True)
class SampleRatioCheck:
    """Observed units (customers) per arm against the configured weights."""

    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    mismatch: bool  # p_value below the threshold: do not trust this experiment's comparison


# Experimentation platforms flag a sample ratio mismatch at a far stricter level than the usual 0.05,
# because the check runs on every experiment all the time and a false alarm stops a healthy test.
SRM_THRESHOLD = 0.001


def sample_ratio_mismatch(
    observed: Mapping[str, int], weights: Mapping[str, float], threshold: float = SRM_THRESHOLD
) -> SampleRatioCheck:
    """Chi-square goodness of fit of units per arm against the configured split weights.

    The units must be what the assignment randomised — for rumbo's splits, customers, not runs: a customer
    who re-enters twenty times brings twenty runs to one arm, and a few such customers skew the runs per
    arm far beyond chance without anything being wrong.

    Weights need not sum to 1 (a journey may say `{A: 50, B: 50, holdout: 10}`). An arm configured but
    never seen counts as 0; an arm seen but not configured is an error, since it means the weights given
    are not the ones the journey ran with.
    """
    unknown = sorted(set(observed) - set(weights))
    if unknown:
        raise AnalyticsError(
            f"variants {unknown} were observed but have no configured weight (weights given for "
            f"{sorted(weights)}) — pass the weights the journey version ran with"
        )
    arms: Sequence[str] = sorted(weights)
    total_weight = sum(float(weights[a]) for a in arms)
    if total_weight <= 0 or any(float(weights[a]) < 0 for a in arms):
        raise AnalyticsError(f"split weights {dict(weights)} must be non-negative and not all zero")
    total = sum(int(observed.get(a, 0)) for a in arms)
    expected = {a: total * float(weights[a]) / total_weight for a in arms}
    counts = {a: int(observed.get(a, 0)) for a in arms}
    live = [a for a in arms if expected[a] > 0]
    if total == 0 or len(live) < 2:
        return SampleRatioCheck(counts, expected, 0.0, 1.0, False)
    chi2 = sum((counts[a] - expected[a]) ** 2 / expected[a] for a in live)
    # An arm with weight 0 that still received units is a mismatch however few there are.
    impossible = any(counts[a] > 0 for a in arms if expected[a] == 0)
    p_value = 0.0 if impossible else float(_scipy_stats.chi2.sf(chi2, df=len(live) - 1))
    return SampleRatioCheck(counts, expected, chi2, p_value, p_value < threshold)
