"""`analyze_clv`: fit the models to a purchase summary and score every customer.

Per customer the result gives expected purchases over the horizon, the probability they are still a
customer, expected spend per purchase and expected value. The result object is what the CLI prints and what
the management API will serve: ``to_dict()`` (JSON-ready, every customer) and ``to_table()`` (Arrow, every
customer, most valuable first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from rumbo.analytics.clv.bgnbd import fit_bgnbd
from rumbo.analytics.clv.fitting import FALLBACK_PENALIZER, ClvFitFailed, ClvInputInvalid, Fit, FloatArray
from rumbo.analytics.clv.gammagamma import GammaGamma, fit_gammagamma
from rumbo.analytics.clv.paretonbd import fit_paretonbd
from rumbo.analytics.clv.summary import DAY, PurchaseSummary
from rumbo.analytics.clv.value import FrequencyModel, discounted_expected_purchases
from rumbo.durations import format_duration

ModelT = TypeVar("ModelT")
ModelName = Literal["bgnbd", "paretonbd"]
MODELS: Final = ("bgnbd", "paretonbd")
MIN_SPEND_CUSTOMERS: Final = 10
"""Fewer repeat customers with a known spend than this, and spend is not modelled (value left empty)."""
FEW_CUSTOMERS: Final = 100
"""Fewer customers than this, and the result carries a note that the estimates are rough."""


@dataclass(frozen=True)
class ClvResult:
    """Lifetime value per customer, with the fitted parameters that produced it."""

    summary: PurchaseSummary
    model: FrequencyModel
    log_likelihood: float
    spend_model: GammaGamma | None
    spend_log_likelihood: float | None
    spend_customers: int
    horizon_days: float
    annual_discount_rate: float
    computed_at: datetime
    expected_purchases: FloatArray
    probability_alive: FloatArray
    expected_spend: FloatArray | None
    expected_value: FloatArray | None
    notes: tuple[str, ...] = field(default=())
    penalizer: float = 0.0  # of the frequency model's fit (0: maximum likelihood)
    spend_penalizer: float = 0.0

    @property
    def horizon(self) -> str:
        """The horizon as a duration string, e.g. '90d'."""
        return format_duration(self.horizon_days * DAY)

    def ranking(self) -> npt.NDArray[np.intp]:
        """Customer indices from most to least valuable (by expected purchases when spend is unknown)."""
        score = self.expected_value if self.expected_value is not None else self.expected_purchases
        # Stable sort on the negated score keeps the summary's (customer id) order among equals.
        return np.argsort(-score, kind="stable")

    def to_table(self) -> pa.Table:
        """Every customer, most valuable first: history, predictions and value."""
        order = self.ranking()
        s = self.summary
        empty = pa.nulls(len(order), pa.float64())
        spend = empty if self.expected_spend is None else pa.array(self.expected_spend[order])
        value = empty if self.expected_value is None else pa.array(self.expected_value[order])
        return pa.table(
            {
                "customer": pa.array([s.customers[i] for i in order], pa.string()),
                "frequency": pa.array(s.frequency[order].astype(np.int64)),
                "recency": pa.array(s.recency[order]),
                "T": pa.array(s.T[order]),
                "monetary": pa.array(s.monetary[order]),
                "expected_purchases": pa.array(self.expected_purchases[order]),
                "probability_alive": pa.array(self.probability_alive[order]),
                "expected_spend": spend,
                "expected_value": value,
            }
        )

    def parameters_table(self) -> pa.Table:
        """The fitted parameters, one row each, with the model they belong to."""
        rows = [(self.model.name, k, v) for k, v in self.model.params().items()]
        if self.spend_model is not None:
            rows += [("gammagamma", k, v) for k, v in self.spend_model.params().items()]
        return pa.table(
            {
                "model": pa.array([r[0] for r in rows], pa.string()),
                "parameter": pa.array([r[1] for r in rows], pa.string()),
                "value": pa.array([r[2] for r in rows], pa.float64()),
            }
        )

    def totals(self) -> dict[str, Any]:
        """Figures for the whole base: customers, expected purchases and value, mean P(alive)."""
        return {
            "customers": len(self.summary),
            "expected_purchases": float(self.expected_purchases.sum()),
            "expected_value": None if self.expected_value is None else float(self.expected_value.sum()),
            "mean_probability_alive": float(self.probability_alive.mean()),
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole result as JSON-ready data (every customer, most valuable first)."""
        return {
            "analysis": "clv",
            "model": self.model.name,
            "parameters": self.model.params(),
            "log_likelihood": self.log_likelihood,
            "penalizer": self.penalizer,
            "spend_model": None if self.spend_model is None else "gammagamma",
            "spend_parameters": None if self.spend_model is None else self.spend_model.params(),
            "spend_log_likelihood": self.spend_log_likelihood,
            "spend_customers": self.spend_customers,
            "spend_penalizer": self.spend_penalizer,
            "unit": self.summary.unit,
            "horizon": self.horizon,
            "annual_discount_rate": self.annual_discount_rate,
            "observation_end": (
                self.summary.observation_end.isoformat() if self.summary.observation_end else None
            ),
            "computed_at": self.computed_at.isoformat(),
            "totals": self.totals(),
            "notes": list(self.notes),
            "customers": self.to_table().to_pylist(),
        }


def analyze_clv(
    summary: PurchaseSummary,
    *,
    model: ModelName = "bgnbd",
    horizon_days: float = 90.0,
    annual_discount_rate: float = 0.0,
    computed_at: datetime | None = None,
    penalizer: float | None = None,
) -> ClvResult:
    """Fit ``model`` and Gamma-Gamma to ``summary`` and score every customer over ``horizon_days``.

    ``computed_at`` stamps the result (and the traits written from it); it defaults to now. ``penalizer``
    fits both models with that prior on their log-parameters (rumbo.analytics.clv.fitting); by default a fit
    is plain maximum likelihood, and one that finds no maximum is fitted again with a weak prior, with a note.
    """
    if model not in MODELS:
        raise ClvInputInvalid(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if horizon_days <= 0:
        raise ClvInputInvalid(f"the horizon must be positive, got {horizon_days} days — e.g. --horizon 90d")
    x, t_x, age = summary.frequency, summary.recency, summary.T
    notes: list[str] = []
    fit_frequency = fit_bgnbd if model == "bgnbd" else fit_paretonbd
    frequency_fit: Fit[Any] = _fit(lambda lam: fit_frequency(x, t_x, age, lam), penalizer, notes)
    fitted: FrequencyModel = frequency_fit.model
    horizon = horizon_days / summary.unit_days
    purchases = fitted.expected_purchases(horizon, x, t_x, age)
    alive = fitted.probability_alive(x, t_x, age)
    if len(summary) < FEW_CUSTOMERS:
        notes.append(
            f"only {len(summary)} customers: the parameters are rough, read the scores as a ranking rather "
            "than as forecasts"
        )
    spend_fit = _fit_spend(summary, penalizer, notes)
    spend: FloatArray | None = None
    value: FloatArray | None = None
    if spend_fit is not None:
        spend = spend_fit.model.expected_spend(x, summary.monetary)
        discounted = discounted_expected_purchases(
            fitted,
            horizon,
            x,
            t_x,
            age,
            annual_discount_rate=annual_discount_rate,
            unit_days=summary.unit_days,
        )
        value = discounted * spend
    return ClvResult(
        summary=summary,
        model=fitted,
        log_likelihood=frequency_fit.log_likelihood,
        spend_model=None if spend_fit is None else spend_fit.model,
        spend_log_likelihood=None if spend_fit is None else spend_fit.log_likelihood,
        spend_customers=0 if spend_fit is None else spend_fit.customers,
        horizon_days=horizon_days,
        annual_discount_rate=annual_discount_rate,
        computed_at=computed_at or datetime.now(UTC),
        expected_purchases=purchases,
        probability_alive=alive,
        expected_spend=spend,
        expected_value=value,
        notes=tuple(notes),
        penalizer=frequency_fit.penalizer,
        spend_penalizer=0.0 if spend_fit is None else spend_fit.penalizer,
    )


def _fit(fit: Callable[[float], Fit[ModelT]], penalizer: float | None, notes: list[str]) -> Fit[ModelT]:
    """`fit` with the penalizer asked for; by default unpenalized, then with the fallback if that fails."""
    if penalizer is not None:
        return fit(penalizer)
    try:
        return fit(0.0)
    except ClvFitFailed as failed:
        fallback = fit(FALLBACK_PENALIZER)
        notes.append(
            f"{failed.model} has no maximum-likelihood fit on these {failed.customers} customers (the "
            f"likelihood keeps rising towards an edge: {failed.reason.rstrip('.')}); fitted with penalizer "
            f"{FALLBACK_PENALIZER:g}, a weak prior on the parameters — more customers will need none"
        )
        return fallback


def _fit_spend(summary: PurchaseSummary, penalizer: float | None, notes: list[str]) -> Fit[GammaGamma] | None:
    usable = int(np.count_nonzero((summary.frequency > 0) & (summary.monetary > 0)))
    if usable < MIN_SPEND_CUSTOMERS:
        notes.append(
            f"spend not modelled: {usable} repeat customer(s) with a known order value, "
            f"{MIN_SPEND_CUSTOMERS} needed — give purchases a value (e.g. properties.revenue)"
        )
        return None
    fit = _fit(lambda lam: fit_gammagamma(summary.frequency, summary.monetary, lam), penalizer, notes)
    # Gamma-Gamma assumes spend does not depend on how often a customer buys; say so when the data disagree.
    repeat = (summary.frequency > 0) & (summary.monetary > 0)
    if repeat.sum() > 2:
        correlation = float(np.corrcoef(summary.frequency[repeat], summary.monetary[repeat])[0, 1])
        if abs(correlation) > 0.3:
            notes.append(
                f"frequency and average spend correlate ({correlation:+.2f}); Gamma-Gamma assumes they do "
                "not, so read expected spend with care"
            )
    return fit
