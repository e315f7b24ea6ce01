"""The Gamma-Gamma model of spend per purchase.

Fader & Hardie (2013), "The Gamma-Gamma model of monetary value".

Each purchase's value is Gamma(p, ν); ν varies across customers as Gamma(q, γ). Given a customer's x repeat
purchases averaging z̄, the model shrinks z̄ toward the population mean pγ/(q-1) in proportion to how little
evidence x purchases give. It is fitted on customers with at least one repeat purchase and a positive
average, and assumes spend is independent of purchase frequency (check before relying on it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from rumbo.analytics.clv.fitting import ClvInputInvalid, Fit, FloatArray, as_float_array, fold, maximise


@dataclass(frozen=True, slots=True)
class GammaGamma:
    """Gamma-Gamma parameters: spend per purchase ~ Gamma(p, ν), ν ~ Gamma(q, gamma)."""

    p: float
    q: float
    gamma: float

    def params(self) -> dict[str, float]:
        """The parameters by name, in the order the literature prints them."""
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    def population_mean_spend(self) -> float:
        """E[spend per purchase] for a customer we know nothing about: pγ/(q-1); infinite if q <= 1."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")

    def log_likelihood(self, frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> FloatArray:
        """Each repeat customer's log-density of their average spend z̄ over x purchases."""
        x, zbar = _repeat_spend(frequency, monetary)
        return _log_likelihood_terms(np.log([self.p, self.q, self.gamma]), x, zbar)[0]

    def expected_spend(self, frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> FloatArray:
        """E[spend per purchase | x, z̄] = p(γ + x z̄)/(px + q - 1); the population mean when x = 0."""
        x = as_float_array(np.atleast_1d(frequency), "frequency")
        zbar = as_float_array(np.atleast_1d(monetary), "monetary")
        x, zbar = np.broadcast_arrays(x, zbar)
        seen = np.where(x > 0, x * zbar, 0.0)
        return np.asarray(self.p * (self.gamma + seen) / (self.p * x + self.q - 1.0), dtype=np.float64)


def fit_gammagamma(
    frequency: npt.ArrayLike, monetary: npt.ArrayLike, penalizer: float = 0.0
) -> Fit[GammaGamma]:
    """Maximum-likelihood Gamma-Gamma parameters from customers' repeat purchase counts and average spend.

    Customers without repeat purchases, or with an average spend of zero or less (refunds), carry no
    information about spend per purchase and are left out; `Fit.customers` counts those used. `penalizer` > 0
    fits with a prior on the log-parameters (rumbo.analytics.clv.fitting).
    """
    x_all = as_float_array(np.atleast_1d(frequency), "frequency")
    zbar_all = as_float_array(np.atleast_1d(monetary), "monetary")
    if x_all.shape != zbar_all.shape:
        raise ClvInputInvalid(f"frequency and monetary differ in length ({x_all.size}, {zbar_all.size})")
    used = (x_all > 0) & (zbar_all > 0)
    if np.count_nonzero(used) < 2:
        raise ClvInputInvalid(
            "Gamma-Gamma needs at least two customers with repeat purchases and a positive average spend; "
            f"found {np.count_nonzero(used)}"
        )
    x, zbar = x_all[used], zbar_all[used]
    # Spend is rescaled like time: a mean near 1 keeps γ near 1 whatever the currency.
    scale = 1.0 / float(np.mean(zbar))
    folded = fold(x, zbar * scale)
    fx, fzbar = folded.columns
    total = float(folded.weights.sum())

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        ll, gradient = _log_likelihood_terms(log_params, fx, fzbar, with_gradient=True)
        return -float(folded.weights @ ll) / total, -(folded.weights @ gradient) / total

    log_params = maximise(objective, np.zeros(3), "Gamma-Gamma", x.size, penalizer)
    p, q, gamma_scaled = np.exp(log_params)
    model = GammaGamma(p=float(p), q=float(q), gamma=float(gamma_scaled / scale))
    log_likelihood = float(model.log_likelihood(x, zbar).sum())
    return Fit(model=model, log_likelihood=log_likelihood, customers=x.size, penalizer=penalizer)


def _repeat_spend(frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = as_float_array(np.atleast_1d(frequency), "frequency")
    zbar = as_float_array(np.atleast_1d(monetary), "monetary")
    x, zbar = np.broadcast_arrays(x, zbar)
    if np.any(x <= 0) or np.any(zbar <= 0):
        raise ClvInputInvalid("the Gamma-Gamma likelihood is defined for x > 0 and average spend > 0 only")
    return x, zbar


def _log_likelihood_terms(
    log_params: FloatArray, x: FloatArray, zbar: FloatArray, with_gradient: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-density of z̄ and (optionally) its gradient with respect to the log-parameters."""
    p, q, gamma = np.exp(log_params)
    px = p * x
    log_pool = np.log(gamma + x * zbar)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(zbar)
        + px * np.log(x)
        - (px + q) * log_pool
    )
    if not with_gradient:
        return ll, np.empty((x.size, 0))
    d_p = x * (digamma(px + q) - digamma(px) + np.log(zbar) + np.log(x) - log_pool)
    d_q = digamma(px + q) - digamma(q) + np.log(gamma) - log_pool
    d_gamma = q / gamma - (px + q) / (gamma + x * zbar)
    return ll, np.column_stack([p * d_p, q * d_q, gamma * d_gamma])
