"""Customer lifetime value over a horizon: expected purchases × expected spend, optionally discounted.

The horizon is cut into steps of one time unit (the last one shorter). The purchases a frequency model
expects in each step are valued at the customer's expected spend per purchase and discounted to today at
the step's end: value = spend · Σ_k [E(t_k) − E(t_{k−1})] · (1 + d)^(−t_k / year). With no discount rate
this is spend · E(horizon) exactly. An annual rate is the figure finance teams quote; it is converted to
the model's unit, so the same rate gives the same value whether time is counted in days or weeks.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import numpy.typing as npt

from rumbo.analytics.clv.fitting import ClvInputInvalid, FloatArray

DAYS_PER_YEAR = 365.25


class FrequencyModel(Protocol):
    """What value needs from BG/NBD or Pareto/NBD."""

    @property
    def name(self) -> str:
        """The model's short name, e.g. 'bgnbd'."""
        ...

    def params(self) -> dict[str, float]:
        """The parameters by name."""
        ...

    def expected_purchases(
        self, t: npt.ArrayLike, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """E[purchases in (T, T + t] | history]."""
        ...

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """P(still a customer at T | history)."""
        ...


def discounted_expected_purchases(
    model: FrequencyModel,
    horizon: float,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    annual_discount_rate: float = 0.0,
    unit_days: float = 7.0,
) -> FloatArray:
    """Expected purchases in (T, T + horizon], each discounted to T at the end of its step of one unit."""
    if horizon <= 0:
        raise ClvInputInvalid(f"the horizon must be positive, got {horizon}")
    if annual_discount_rate < 0 or not math.isfinite(annual_discount_rate):
        raise ClvInputInvalid(f"the discount rate must be 0 or more per year, got {annual_discount_rate}")
    if annual_discount_rate == 0:
        return model.expected_purchases(horizon, frequency, recency, T)
    units_per_year = DAYS_PER_YEAR / unit_days
    log_factor = -math.log1p(annual_discount_rate) / units_per_year
    edges = np.append(np.arange(1.0, math.ceil(horizon)), horizon)
    # Predictions depend on the history only, and many customers share one: compute each distinct history
    # once per step, then hand the results back to every customer.
    columns = np.broadcast_arrays(
        np.atleast_1d(np.asarray(frequency, dtype=np.float64)),
        np.atleast_1d(np.asarray(recency, dtype=np.float64)),
        np.atleast_1d(np.asarray(T, dtype=np.float64)),
    )
    distinct, owner = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
    x, t_x, age = distinct[:, 0], distinct[:, 1], distinct[:, 2]
    total = np.zeros(len(distinct))
    previous = np.zeros(len(distinct))
    # One step at a time keeps memory at one vector per history however long the horizon.
    for edge in edges:
        cumulative = model.expected_purchases(edge, x, t_x, age)
        total += (cumulative - previous) * math.exp(log_factor * edge)
        previous = cumulative
    return np.asarray(total[owner.reshape(-1)], dtype=np.float64)


def expected_value(
    model: FrequencyModel,
    spend: npt.ArrayLike,
    horizon: float,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    annual_discount_rate: float = 0.0,
    unit_days: float = 7.0,
) -> FloatArray:
    """Expected (discounted) value of each customer's purchases over the horizon, in spend's currency."""
    purchases = discounted_expected_purchases(
        model,
        horizon,
        frequency,
        recency,
        T,
        annual_discount_rate=annual_discount_rate,
        unit_days=unit_days,
    )
    return np.asarray(purchases * np.asarray(spend, dtype=np.float64), dtype=np.float64)
