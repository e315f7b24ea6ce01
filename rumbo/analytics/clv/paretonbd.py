"""The Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

While alive, a customer buys at a Poisson rate λ ~ Gamma(r, α); their lifetime is exponential with rate
μ ~ Gamma(s, β). Histories are (x, t_x, T) as for BG/NBD.

The likelihood (Fader, Hardie & Lee 2005, "A note on implementing the Pareto/NBD model in MATLAB", eq. 2–4)
contains A0, a difference of two Gauss hypergeometric terms 2F1(r+s+x, ·; r+s+x+1; z). Evaluated as printed
it overflows for frequent buyers and loses every digit to cancellation when t_x is close to T. Here each
term goes through Euler's transformation, which turns it into 2F1(1, ·; r+s+x+1; z) — a series of positive
terms that never exceeds 1/(1-z) — times plain powers, all kept in logs; the difference is then taken as
log(e^u - e^v) = u + log(1 - e^(v-u)) with log1p/expm1, so nothing overflows and nothing cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import expit, gammaln, hyp2f1

from rumbo.analytics.clv.fitting import (
    Fit,
    FloatArray,
    frequency_data,
    histories,
    maximise,
    with_central_differences,
)


@dataclass(frozen=True, slots=True)
class ParetoNbd:
    """Pareto/NBD parameters: purchase rate λ ~ Gamma(r, alpha), dropout rate μ ~ Gamma(s, beta)."""

    r: float
    alpha: float
    s: float
    beta: float

    name: ClassVar[str] = "paretonbd"

    def params(self) -> dict[str, float]:
        """The parameters by name, in the order the literature prints them."""
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}

    def log_likelihood(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Each customer's log-likelihood of their history (x, t_x, T)."""
        x, t_x, age = histories(frequency, recency, T)
        common, alive, dead = _likelihood_parts(self.r, self.alpha, self.s, self.beta, x, t_x, age)
        return np.asarray(common + np.logaddexp(alive, dead), dtype=np.float64)

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """P(still alive at T | history): the share of the likelihood in which the customer never left."""
        x, t_x, age = histories(frequency, recency, T)
        _, alive, dead = _likelihood_parts(self.r, self.alpha, self.s, self.beta, x, t_x, age)
        return np.asarray(expit(alive - dead), dtype=np.float64)

    def expected_purchases(
        self, t: npt.ArrayLike, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """E[purchases in (T, T + t] | history] (Fader & Hardie 2005, note 009, eq. 41)."""
        x, t_x, age = histories(frequency, recency, T)
        t = np.asarray(t, dtype=np.float64)
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        log_ratio = np.log(beta + age) - np.log(beta + age + t)
        # [1 - ratio^(s-1)] / (s-1), written so that s close to 1 takes its limit -log(ratio) smoothly.
        if abs(s - 1.0) < 1e-10:
            survival_integral = -log_ratio
        else:
            survival_integral = -np.expm1((s - 1.0) * log_ratio) / (s - 1.0)
        rate = (r + x) * (beta + age) / (alpha + age)
        return np.asarray(rate * survival_integral * self.probability_alive(x, t_x, age), dtype=np.float64)

    def expected_purchases_new(self, t: npt.ArrayLike) -> FloatArray:
        """E[repeat purchases in (0, t]] for a customer who just made their first purchase."""
        return self.expected_purchases(np.atleast_1d(np.asarray(t, dtype=np.float64)), 0.0, 0.0, 0.0)


def fit_paretonbd(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike, penalizer: float = 0.0
) -> Fit[ParetoNbd]:
    """Maximum-likelihood Pareto/NBD parameters for the customers' histories (x, t_x, T).

    `penalizer` > 0 fits with a prior on the log-parameters (rumbo.analytics.clv.fitting). Raises
    ClvInputInvalid for an inconsistent summary and ClvFitFailed if the optimiser does not converge.
    """
    data = frequency_data(frequency, recency, T)
    x, t_x, age, scale, folded = data.x, data.t_x, data.age, data.scale, data.folded
    fx, ft_x, fage = folded.columns
    total = data.total

    def negative_log_likelihood(log_params: FloatArray) -> float:
        r, alpha, s, beta = np.exp(log_params)
        common, alive, dead = _likelihood_parts(r, alpha, s, beta, fx, ft_x, fage)
        return -float(folded.weights @ (common + np.logaddexp(alive, dead))) / total

    objective = with_central_differences(negative_log_likelihood)
    log_params = maximise(objective, np.zeros(4), "Pareto/NBD", x.size, penalizer)
    r, alpha_scaled, s, beta_scaled = np.exp(log_params)
    model = ParetoNbd(
        r=float(r), alpha=float(alpha_scaled / scale), s=float(s), beta=float(beta_scaled / scale)
    )
    return Fit(
        model=model,
        log_likelihood=float(model.log_likelihood(x, t_x, age).sum()),
        customers=x.size,
        penalizer=penalizer,
    )


def _likelihood_parts(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log L = common + logaddexp(alive, dead): alive if the customer is still active at T, dead if they
    left somewhere in (t_x, T]."""
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    at_last = _log_a0_term(r, alpha, s, beta, x, t_x)
    at_end = _log_a0_term(r, alpha, s, beta, x, age)
    # log A0 = log(e^at_last - e^at_end); at_end <= at_last, and equality (t_x = T) leaves no room to leave.
    with np.errstate(divide="ignore"):
        log_a0 = at_last + _log1mexp(at_end - at_last)
    dead = np.log(s) - np.log(r + s + x) + log_a0
    return common, alive, dead


def _log_a0_term(r: float, alpha: float, s: float, beta: float, x: FloatArray, t: FloatArray) -> FloatArray:
    """log of 2F1(r+s+x, ·; r+s+x+1; z(t)) / (max(α,β) + t)^(r+s+x), through Euler's transformation.

    α ≥ β, z = (α-β)/(α+t):
        2F1(r+s+x, s+1; r+s+x+1; z) / (α+t)^(r+s+x) = 2F1(1, r+x; r+s+x+1; z) / ((α+t)^(r+x) (β+t)^s)
    α < β, z = (β-α)/(β+t):
        2F1(r+s+x, r+x; r+s+x+1; z) / (β+t)^(r+s+x) = 2F1(1, s+1; r+s+x+1; z) / ((α+t)^(r+x-1) (β+t)^(s+1))
    """
    c = r + s + x + 1.0
    if alpha >= beta:
        z = (alpha - beta) / (alpha + t)
        series = hyp2f1(1.0, r + x, c, z)
        return np.asarray(
            np.log(series) - (r + x) * np.log(alpha + t) - s * np.log(beta + t), dtype=np.float64
        )
    z = (beta - alpha) / (beta + t)
    series = hyp2f1(1.0, s + 1.0, c, z)
    return np.asarray(
        np.log(series) - (r + x - 1.0) * np.log(alpha + t) - (s + 1.0) * np.log(beta + t), dtype=np.float64
    )


def _log1mexp(d: FloatArray) -> FloatArray:
    """log(1 - e^d) for d <= 0, accurate at both ends (Mächler 2012)."""
    return np.where(d > -np.log(2.0), np.log(-np.expm1(d)), np.log1p(-np.exp(d)))
