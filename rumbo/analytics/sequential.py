"""Anytime-valid inference for conversion experiments: look every day without inflating false positives.

A fixed-horizon z-test is valid only when read once, at the planned sample size. Read daily, and stopped at
the first "significant" day, its false-positive rate climbs far above α. The mixture sequential probability
ratio test (mSPRT) of Johari, Koomen, Pekelis and Walsh ("Always valid inference", 2017/2022) fixes this:
its p-value and confidence interval hold simultaneously at every look, however many looks there are.

For the difference of two conversion rates θ = p_t - p_c with estimate θ̂ and (plug-in) variance V, the
normal-mixture likelihood ratio against θ = 0, with a N(0, τ²) mixing distribution, is

    Λ = √(V / (V + τ²)) · exp(θ̂² τ² / (2 V (V + τ²)))

The always-valid p-value after look k is min over looks j ≤ k of 1/Λ_j (capped at 1); the always-valid
confidence interval is the intersection over looks of θ̂_j ± √(V_j (V_j + τ²) / τ² · (2 log(1/α) +
log((V_j + τ²) / V_j))). τ is the scale of the effects one expects: the test has the most power near it,
and stays valid for any τ. The plug-in variance makes the guarantee asymptotic in the number of runs, as in
the paper; the simulation test in tests/analytics shows it holding at the sizes rumbo is used on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rumbo.errors import AnalyticsError


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """The always-valid verdict after the last look."""

    looks: int
    p_value: float  # always-valid: running minimum of 1/Λ over the looks
    ci: tuple[float, float]  # always-valid interval for p_t - p_c: intersection over the looks
    tau: float
    rejected: bool  # p_value <= alpha; once true it stays true for this data


def _check_tau(tau: float) -> None:
    if not tau > 0 or not math.isfinite(tau):
        raise AnalyticsError(
            f"mixing scale tau={tau!r} must be a positive number — use the size of the absolute "
            "difference in conversion rate you expect, e.g. 0.01"
        )


def mixture_likelihood_ratio(
    x_control: npt.ArrayLike,
    n_control: npt.ArrayLike,
    x_treatment: npt.ArrayLike,
    n_treatment: npt.ArrayLike,
    tau: float,
) -> npt.NDArray[np.float64]:
    """Λ at each look, from cumulative conversions and runs per arm (arrays of equal length).

    A look where an arm has no runs yet, or where the plug-in variance is zero (no arm has both converted
    and unconverted runs), carries no evidence: Λ = 1 there.
    """
    _check_tau(tau)
    xc = np.asarray(x_control, dtype=np.float64)
    nc = np.asarray(n_control, dtype=np.float64)
    xt = np.asarray(x_treatment, dtype=np.float64)
    nt = np.asarray(n_treatment, dtype=np.float64)
    ok = (nc > 0) & (nt > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pc = np.where(ok, xc / nc, 0.0)
        pt = np.where(ok, xt / nt, 0.0)
        v = np.where(ok, pc * (1 - pc) / np.where(ok, nc, 1) + pt * (1 - pt) / np.where(ok, nt, 1), 0.0)
        live = ok & (v > 0)
        vv = np.where(live, v, 1.0)
        theta = pt - pc
        tau2 = tau * tau
        log_lr = 0.5 * np.log(vv / (vv + tau2)) + theta**2 * tau2 / (2 * vv * (vv + tau2))
    return np.where(live, np.exp(np.minimum(log_lr, 700.0)), 1.0)


def msprt(
    x_control: Sequence[int] | npt.ArrayLike,
    n_control: Sequence[int] | npt.ArrayLike,
    x_treatment: Sequence[int] | npt.ArrayLike,
    n_treatment: Sequence[int] | npt.ArrayLike,
    tau: float,
    alpha: float = 0.05,
) -> SequentialResult:
    """The mSPRT over a sequence of looks; each argument holds the cumulative counts at each look.

    With one look this is still valid (and more conservative than the z-test); its value is that a look
    every day costs nothing in validity.
    """
    _check_tau(tau)
    xc = np.asarray(x_control, dtype=np.float64)
    nc = np.asarray(n_control, dtype=np.float64)
    xt = np.asarray(x_treatment, dtype=np.float64)
    nt = np.asarray(n_treatment, dtype=np.float64)
    if not (xc.shape == nc.shape == xt.shape == nt.shape) or xc.ndim != 1 or xc.size == 0:
        raise AnalyticsError("mSPRT needs the same number (at least one) of cumulative counts per arm")
    lam = mixture_likelihood_ratio(xc, nc, xt, nt, tau)
    p_value = float(min(1.0, float(np.min(1.0 / lam))))

    low, high = -1.0, 1.0  # a difference of two rates lies in [-1, 1] before any evidence
    tau2 = tau * tau
    for i in range(xc.size):
        if nc[i] <= 0 or nt[i] <= 0:
            continue
        pc, pt = xc[i] / nc[i], xt[i] / nt[i]
        v = pc * (1 - pc) / nc[i] + pt * (1 - pt) / nt[i]
        if v <= 0:
            continue
        half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
        low = max(low, pt - pc - half)
        high = min(high, pt - pc + half)
    if low > high:  # the running intersection can only empty through sampling noise; keep the last point
        mid = float(xt[-1] / nt[-1] - xc[-1] / nc[-1]) if nc[-1] > 0 and nt[-1] > 0 else 0.0
        low = high = mid
    return SequentialResult(
        looks=int(xc.size),
        p_value=p_value,
        ci=(float(low), float(high)),
        tau=float(tau),
        rejected=p_value <= alpha,
    )
