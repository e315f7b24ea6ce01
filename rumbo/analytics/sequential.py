"""Anytime-valid inference for conversion experiments: look every day without inflating false positives.

A fixed-horizon z-test is valid only when read once, at the planned sample size. Read daily, and stopped at
the first "significant" day, its false-positive rate climbs far above α. The mixture sequential probability
ratio test (mSPRT) of Johari, Koomen, Pekelis and Walsh ("Always valid inference", 2017/2022) fixes this:
its p-value and confidence interval hold simultaneously at every look, however many looks there are.

For the difference of two conversion rates θ = p_t - p_c with estimate θ̂ and variance V, the normal-mixture
likelihood ratio against θ = θ₀, with a N(θ₀, τ²) mixing distribution, is

    Λ(θ₀) = √(V / (V + τ²)) · exp((θ̂ - θ₀)² τ² / (2 V (V + τ²)))

The always-valid p-value after look k is min over looks j ≤ k of 1/Λ_j(0) (capped at 1); the always-valid
confidence interval is the intersection over looks of {θ₀ : Λ_j(θ₀) < 1/α}, that is of
θ̂_j ± √(V_j (V_j + τ²) / τ² · (2 log(1/α) + log((V_j + τ²) / V_j))), or the last look's interval should the
intersection be empty. τ is the scale of the effects one expects: the test has the most power near it, and
stays valid for any τ.

V is estimated from the data, which makes the guarantee asymptotic in the number of runs, as in the paper.
The plain plug-in variance p̂_c(1-p̂_c)/n_c + p̂_t(1-p̂_t)/n_t is dangerous at the first looks: an arm with a
handful of runs, all unconverted, contributes a variance of 0, Λ explodes and the running minimum and
intersection keep that one look's verdict for ever. So:

- the p-value tests θ = 0 with the variance under that null, from the pooled rate p̄ (as the fixed-horizon
  z-test does): V₀ = p̄(1-p̄)(1/n_c + 1/n_t), which is 0 only when no arm has a conversion (or none a
  non-conversion), and then θ̂ = 0 too;
- the interval uses each arm's rate shrunk towards ½ by one conversion and one non-conversion,
  p̃ = (x+1)/(n+2) (the adjustment of Agresti and Caffo, 2000), in the variance only:
  V = p̃_c(1-p̃_c)/n_c + p̃_t(1-p̃_t)/n_t, never below the plug-in variance and never 0;
- a look carries evidence only once every arm has `min_runs` runs (Λ = 1 and no narrowing before that),
  because the normal approximation behind the mixture is poor below that.

When customers make several runs each (the engine assigns the arm per customer, and customers re-enter),
the runs of one customer are correlated and both variances above understate the truth. Each arm's term is
then multiplied by its design effect at that look (`rumbo.analytics.stats.design_effect`, the
cluster-robust variance of the arm's rate over its binomial variance, never below 1), estimated from the
customers' mature runs counted at that look — at the pooled rate for V₀, at the arm's own rate for V; with
one run per customer it is 1 and nothing changes.

Ignoring looks never costs validity — the guarantee holds at every look, so it holds at any subset. The
simulation tests in tests/analytics show the guarantee holding at the sizes rumbo is used on, including
with tiny first looks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from rumbo.analytics.stats import design_effect
from rumbo.errors import AnalyticsError

MIN_RUNS: Final = 30  # runs every arm needs before a look carries evidence

# One arm's (Σ n_i², Σ x_i n_i, Σ x_i²) over its customers at each look; see `stats.design_effect`.
ArraySums = tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """The always-valid verdict after the last look."""

    looks: int
    p_value: float  # always-valid: running minimum of 1/Λ(0) over the looks
    ci: tuple[float, float]  # always-valid interval for p_t - p_c: intersection over the looks
    tau: float
    rejected: bool  # p_value <= alpha; once true it stays true for this data
    control_runs: int  # counts of each arm at the last look: the most the test has counted
    treatment_runs: int
    control_conversions: int
    treatment_conversions: int


def _check_tau(tau: float) -> None:
    if not tau > 0 or not math.isfinite(tau):
        raise AnalyticsError(
            f"mixing scale tau={tau!r} must be a positive number — use the size of the absolute "
            "difference in conversion rate you expect, e.g. 0.01"
        )


def _check_min_runs(min_runs: int) -> None:
    if min_runs < 1:
        raise AnalyticsError(f"min_runs={min_runs!r} must be at least 1 — a look needs runs in every arm")


def _log_lr(
    diff: npt.NDArray[np.float64], v: npt.NDArray[np.float64], tau2: float
) -> npt.NDArray[np.float64]:
    return 0.5 * np.log(v / (v + tau2)) + diff**2 * tau2 / (2 * v * (v + tau2))


def mixture_likelihood_ratio(
    x_control: npt.ArrayLike,
    n_control: npt.ArrayLike,
    x_treatment: npt.ArrayLike,
    n_treatment: npt.ArrayLike,
    tau: float,
    min_runs: int = MIN_RUNS,
    *,
    control_sums: ArraySums | None = None,
    treatment_sums: ArraySums | None = None,
) -> npt.NDArray[np.float64]:
    """Λ(0) at each look, from cumulative conversions and runs per arm (arrays of equal length, or 2-D with
    looks along the last axis), with the pooled variance of the null θ = 0, each arm's term multiplied by
    its design effect at the pooled rate; `*_sums` are each arm's (Σ n_i², Σ x_i n_i, Σ x_i²) over its
    customers at each look (default: every run its own customer).

    A look where an arm has fewer than `min_runs` runs, or where the pooled rate is 0 or 1 (so the arms
    cannot differ), carries no evidence: Λ = 1 there.
    """
    _check_tau(tau)
    _check_min_runs(min_runs)
    xc = np.asarray(x_control, dtype=np.float64)
    nc = np.asarray(n_control, dtype=np.float64)
    xt = np.asarray(x_treatment, dtype=np.float64)
    nt = np.asarray(n_treatment, dtype=np.float64)
    enough = (nc >= min_runs) & (nt >= min_runs)
    with np.errstate(divide="ignore", invalid="ignore"):
        pc = np.where(enough, xc / nc, 0.0)
        pt = np.where(enough, xt / nt, 0.0)
        pooled = np.where(enough, (xc + xt) / (nc + nt), 0.0)
        dc = design_effect(xc, nc, *(control_sums or (nc, xc, xc)), rate=pooled)
        dt = design_effect(xt, nt, *(treatment_sums or (nt, xt, xt)), rate=pooled)
        v0 = np.where(enough, pooled * (1 - pooled) * (dc / nc + dt / nt), 0.0)
        live = enough & (v0 > 0)
        log_lr = _log_lr(pt - pc, np.where(live, v0, 1.0), tau * tau)
    return np.where(live, np.exp(np.minimum(log_lr, 700.0)), 1.0)


def interval_variance(
    x_control: float,
    n_control: float,
    x_treatment: float,
    n_treatment: float,
    deff_control: float = 1.0,
    deff_treatment: float = 1.0,
) -> float:
    """Variance of p̂_t - p̂_c for the always-valid interval, with the rates shrunk by (x+1)/(n+2) and each
    arm's term multiplied by its design effect."""
    pc = (x_control + 1) / (n_control + 2)
    pt = (x_treatment + 1) / (n_treatment + 2)
    return deff_control * pc * (1 - pc) / n_control + deff_treatment * pt * (1 - pt) / n_treatment


def msprt(
    x_control: Sequence[int] | npt.ArrayLike,
    n_control: Sequence[int] | npt.ArrayLike,
    x_treatment: Sequence[int] | npt.ArrayLike,
    n_treatment: Sequence[int] | npt.ArrayLike,
    tau: float,
    alpha: float = 0.05,
    min_runs: int = MIN_RUNS,
    *,
    control_sums: ArraySums | None = None,
    treatment_sums: ArraySums | None = None,
) -> SequentialResult:
    """The mSPRT over a sequence of looks; each argument holds the cumulative counts at each look.

    With one look this is still valid (and more conservative than the z-test); its value is that a look
    every day costs nothing in validity. Looks before every arm has `min_runs` runs are skipped.
    `control_sums` and `treatment_sums` are each arm's (Σ n_i², Σ x_i n_i, Σ x_i²) over its customers at
    each look, for the design effects (default: every run its own customer).
    """
    _check_tau(tau)
    _check_min_runs(min_runs)
    xc = np.asarray(x_control, dtype=np.float64)
    nc = np.asarray(n_control, dtype=np.float64)
    xt = np.asarray(x_treatment, dtype=np.float64)
    nt = np.asarray(n_treatment, dtype=np.float64)
    if not (xc.shape == nc.shape == xt.shape == nt.shape) or xc.ndim != 1 or xc.size == 0:
        raise AnalyticsError("mSPRT needs the same number (at least one) of cumulative counts per arm")
    lam = mixture_likelihood_ratio(
        xc, nc, xt, nt, tau, min_runs, control_sums=control_sums, treatment_sums=treatment_sums
    )
    dc = np.broadcast_to(design_effect(xc, nc, *(control_sums or (nc, xc, xc))), xc.shape)
    dt = np.broadcast_to(design_effect(xt, nt, *(treatment_sums or (nt, xt, xt))), xt.shape)
    p_value = float(min(1.0, float(np.min(1.0 / lam))))

    low, high = -1.0, 1.0  # a difference of two rates lies in [-1, 1] before any evidence
    last: tuple[float, float] = (low, high)
    tau2 = tau * tau
    for i in range(xc.size):
        if nc[i] < min_runs or nt[i] < min_runs:
            continue
        v = interval_variance(xc[i], nc[i], xt[i], nt[i], float(dc[i]), float(dt[i]))
        half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
        theta = xt[i] / nt[i] - xc[i] / nc[i]
        last = (theta - half, theta + half)
        low = max(low, last[0])
        high = min(high, last[1])
    if low > high:
        # The looks' intervals hold all at once with probability 1 - α, so they can disagree only in the
        # remaining α; then the last look's interval, valid on its own at any look, is the honest answer.
        low, high = last
    return SequentialResult(
        looks=int(xc.size),
        p_value=p_value,
        ci=(float(low), float(high)),
        tau=float(tau),
        rejected=p_value <= alpha,
        control_runs=int(nc[-1]),
        treatment_runs=int(nt[-1]),
        control_conversions=int(xc[-1]),
        treatment_conversions=int(xt[-1]),
    )
