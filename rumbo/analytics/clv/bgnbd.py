"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive, a customer buys at a Poisson rate λ ~ Gamma(r, α); after each purchase they drop out with
probability p ~ Beta(a, b). A customer's history is summarised by x (repeat purchases), t_x (time of the
last purchase since the first) and T (time since the first purchase), all in the same unit.

The log-likelihood follows section 7 of the paper, evaluated in log space with logaddexp so that customers
with long histories do not underflow; its gradient is analytic (digamma functions), which makes fitting a
handful of BFGS steps. The conditional expectation uses Euler's transformation of the Gauss hypergeometric
function so that it stays finite for frequent buyers, where the paper's form overflows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, expit, gammaln, hyp2f1

from rumbo.analytics.clv.fitting import (
    Fit,
    FloatArray,
    frequency_data,
    histories,
    maximise,
)


@dataclass(frozen=True, slots=True)
class BgNbd:
    """BG/NBD parameters: purchase rate λ ~ Gamma(shape r, rate alpha), dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    name: ClassVar[str] = "bgnbd"

    def params(self) -> dict[str, float]:
        """The parameters by name, in the order the literature prints them."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def log_likelihood(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Each customer's log-likelihood of their history (x, t_x, T)."""
        x, t_x, age = histories(frequency, recency, T)
        return _log_likelihood_terms(np.log([self.r, self.alpha, self.a, self.b]), x, t_x, age)[0]

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """P(still alive at T | history); 1 for customers without repeat purchases, by the model's design."""
        x, t_x, age = histories(frequency, recency, T)
        log_odds_dead = np.log(self.a) - np.log(self.b + np.maximum(x, 1.0) - 1.0)
        log_odds_dead += (self.r + x) * (np.log(self.alpha + age) - np.log(self.alpha + t_x))
        return np.where(x > 0, expit(-log_odds_dead), 1.0)

    def expected_purchases(
        self, t: npt.ArrayLike, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """E[purchases in (T, T + t] | history] — the paper's equation (10); t broadcasts with the history."""
        x, t_x, age = histories(frequency, recency, T)
        t = np.asarray(t, dtype=np.float64)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + age + t)
        # ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; z) rewritten with Euler's transformation: the
        # product equals (1-z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z), whose series stays small for any x.
        with np.errstate(divide="ignore"):
            log_tail = (a - 1.0) * np.log1p(-z) + np.log(hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z))
        bracket = -np.expm1(log_tail)
        alive_odds = np.where(
            x > 0,
            a
            / (b + np.maximum(x, 1.0) - 1.0)
            * np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + t_x))),
            0.0,
        )
        return np.asarray((a + b + x - 1.0) / (a - 1.0) * bracket / (1.0 + alive_odds), dtype=np.float64)

    def expected_purchases_new(self, t: npt.ArrayLike) -> FloatArray:
        """E[repeat purchases in (0, t]] for a customer who just made their first purchase — equation (9)."""
        return self.expected_purchases(np.atleast_1d(np.asarray(t, dtype=np.float64)), 0.0, 0.0, 0.0)


def fit_bgnbd(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike, penalizer: float = 0.0
) -> Fit[BgNbd]:
    """Maximum-likelihood BG/NBD parameters for the customers' histories (x, t_x, T).

    `penalizer` > 0 fits with a prior on the log-parameters (rumbo.analytics.clv.fitting). Raises
    ClvInputInvalid for an inconsistent summary and ClvFitFailed if the optimiser does not converge.
    """
    data = frequency_data(frequency, recency, T)
    x, t_x, age, scale, folded = data.x, data.t_x, data.age, data.scale, data.folded
    fx, ft_x, fage = folded.columns
    total = data.total

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        ll, gradient = _log_likelihood_terms(log_params, fx, ft_x, fage, with_gradient=True)
        return -float(folded.weights @ ll) / total, -(folded.weights @ gradient) / total

    log_params = maximise(objective, np.zeros(4), "BG/NBD", x.size, penalizer)
    r, alpha_scaled, a, b = np.exp(log_params)
    model = BgNbd(r=float(r), alpha=float(alpha_scaled / scale), a=float(a), b=float(b))
    return Fit(
        model=model,
        log_likelihood=float(model.log_likelihood(x, t_x, age).sum()),
        customers=x.size,
        penalizer=penalizer,
    )


def _log_likelihood_terms(
    log_params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray, with_gradient: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and (optionally) its gradient with respect to the log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    x_or_1 = np.maximum(x, 1.0)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + age)
    a4 = np.where(repeat, np.log(a) - np.log(b + x_or_1 - 1.0) - (r + x) * np.log(alpha + t_x), -np.inf)
    mix = np.logaddexp(a3, a4)
    ll = a1 + a2 + mix
    if not with_gradient:
        return ll, np.empty((x.size, 0))
    w3 = np.exp(a3 - mix)
    w4 = np.exp(a4 - mix)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + age) - w4 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + age) + w4 / (alpha + t_x))
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / (b + x_or_1 - 1.0)
    # Chain rule to log-parameters: d/d(log θ) = θ · d/dθ.
    gradient = np.column_stack([r * d_r, alpha * d_alpha, a * d_a, b * d_b])
    return ll, gradient
