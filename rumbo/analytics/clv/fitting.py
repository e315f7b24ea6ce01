"""Maximum-likelihood machinery shared by the lifetime-value models.

Every model is fitted the same way: the parameters are positive, so the optimiser works on their logarithms
(no bounds to respect, and the surface is closer to quadratic); customers with the same history are folded
into one row with a weight, which leaves the likelihood unchanged and makes each evaluation cheaper; and the
time axis is rescaled so the oldest customer is 10 units old, which keeps the rate parameters near 1 whatever
unit the caller measures time in.

On small or unusual samples the likelihood may keep rising towards an edge of the parameter space (no sign
that customers drop out, say, sends a and b of BG/NBD to infinity), and the optimiser stops without a
maximum. A *penalizer* λ turns the fit into a maximum a posteriori one: λ·Σ(log θ)² is added to the negative
log-likelihood, a normal prior with standard deviation 1/√(2λ) on each log-parameter (on the rescaled
axes, where parameters near 1 are typical). Its weight is fixed in total, so it fades as customers are
added; λ = 0 is plain maximum likelihood, which is what reproduces published estimates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from rumbo.errors import AnalyticsError

FloatArray = npt.NDArray[np.float64]
Objective = Callable[[FloatArray], tuple[float, FloatArray]]
"""Negative log-likelihood per customer as a function of the log-parameters, with its gradient."""

ModelT = TypeVar("ModelT")

TIME_SCALE_TARGET = 10.0
"""The age the oldest customer is rescaled to while fitting (see the module docstring)."""


FALLBACK_PENALIZER = 0.05
"""The penalizer a fit falls back to when maximum likelihood finds no maximum: a prior of standard deviation
about 3 on each log-parameter, weak enough to leave well-determined parameters where the data put them."""


class ClvFitFailed(AnalyticsError):
    """A lifetime-value model did not converge on the data given."""

    def __init__(self, model: str, customers: int, reason: str, penalizer: float = 0.0) -> None:
        self.model = model
        self.customers = customers
        self.reason = reason
        self.penalizer = penalizer
        advice = (
            f"try a penalizer (e.g. --penalizer {FALLBACK_PENALIZER}) when the data are few"
            if penalizer == 0
            else "try a larger penalizer"
        )
        super().__init__(
            f"{model} did not converge on {customers} customers"
            + (f" with penalizer {penalizer:g}" if penalizer else "")
            + f": {reason} — check that the summary has repeat purchases (frequency > 0) for a good share of "
            f"customers and that recency <= T, or {advice}"
        )


class ClvInputInvalid(AnalyticsError):
    """The purchase histories handed to a model are not a valid frequency/recency/age summary."""


@dataclass(frozen=True, slots=True)
class Histories:
    """Customer histories folded to the distinct ones, each with how many customers share it."""

    columns: tuple[FloatArray, ...]
    weights: FloatArray


def as_float_array(values: npt.ArrayLike, name: str) -> FloatArray:
    """A one-dimensional float array of finite values, or ClvInputInvalid naming the column."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ClvInputInvalid(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ClvInputInvalid(f"{name} has missing or infinite values — drop or fill those customers first")
    return array


def histories(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x, t_x, T) as float arrays of one length (scalars broadcast), checked for consistency."""
    columns = (
        as_float_array(np.atleast_1d(frequency), "frequency"),
        as_float_array(np.atleast_1d(recency), "recency"),
        as_float_array(np.atleast_1d(T), "T"),
    )
    try:
        x, t_x, age = np.broadcast_arrays(*columns)
    except ValueError:
        lengths = ", ".join(str(c.size) for c in columns)
        raise ClvInputInvalid(f"frequency, recency and T differ in length ({lengths})") from None
    check_histories(x, t_x, age)
    return x, t_x, age


def check_histories(frequency: FloatArray, recency: FloatArray, age: FloatArray) -> None:
    """Raise ClvInputInvalid unless (frequency, recency, T) is a consistent summary."""
    if not frequency.shape == recency.shape == age.shape:
        raise ClvInputInvalid(
            f"frequency, recency and T differ in length ({frequency.size}, {recency.size}, {age.size})"
        )
    if frequency.size == 0:
        raise ClvInputInvalid("no customers to fit — the summary is empty")
    problems = [
        (
            np.any(frequency < 0) or np.any(frequency != np.round(frequency)),
            "frequency must be whole and >= 0",
        ),
        (np.any(recency < 0), "recency must be >= 0"),
        (np.any(recency > age), "recency must be <= T (the last purchase cannot come after the end)"),
        (np.any((frequency == 0) & (recency != 0)), "recency must be 0 for customers with frequency 0"),
    ]
    for failed, message in problems:
        if failed:
            raise ClvInputInvalid(message)


def check_ages(age: FloatArray) -> None:
    """Raise ClvInputInvalid if no customer has been observed for any time (nothing to learn from)."""
    if np.all(age <= 0):
        raise ClvInputInvalid(
            "T must be > 0 for at least one customer — every customer was first seen at the end"
        )


def check_repeat_buyers(frequency: FloatArray) -> None:
    """Raise ClvInputInvalid if nobody bought twice: then the data say nothing about purchase rates."""
    if not np.any(frequency > 0):
        raise ClvInputInvalid(
            f"none of the {frequency.size} customers has a repeat purchase, so there is no purchase rate to "
            "learn — observe a longer period (an earlier first purchase or a later --as-of)"
        )


def fold(*columns: FloatArray) -> Histories:
    """Collapse identical rows of the given columns into distinct rows with counts as weights."""
    stacked = np.column_stack(columns)
    distinct, counts = np.unique(stacked, axis=0, return_counts=True)
    return Histories(
        columns=tuple(np.ascontiguousarray(distinct[:, i]) for i in range(distinct.shape[1])),
        weights=counts.astype(np.float64),
    )


def time_scale(age: FloatArray) -> float:
    """The factor that maps the oldest customer's age to TIME_SCALE_TARGET."""
    return TIME_SCALE_TARGET / float(np.max(age))


@dataclass(frozen=True, slots=True)
class FrequencyData:
    """A frequency model's input, checked: the histories as given (x, t_x, T), the factor that rescales
    time for the optimiser, and the rescaled histories folded to distinct rows."""

    x: FloatArray
    t_x: FloatArray
    age: FloatArray
    scale: float
    folded: Histories

    @property
    def total(self) -> float:
        return float(self.folded.weights.sum())


def frequency_data(frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike) -> FrequencyData:
    """What BG/NBD and Pareto/NBD fits start from; raises ClvInputInvalid for histories they cannot use."""
    x, t_x, age = histories(frequency, recency, T)
    check_ages(age)
    check_repeat_buyers(x)
    scale = time_scale(age)
    return FrequencyData(x, t_x, age, scale, fold(x, t_x * scale, age * scale))


def with_central_differences(value: Callable[[FloatArray], float], step: float = 1e-6) -> Objective:
    """An Objective from a value-only function, its gradient taken by central differences.

    For likelihoods whose analytic gradient would need derivatives of a hypergeometric function with
    respect to its parameters (Pareto/NBD), differences are accurate enough on log-parameters.
    """

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        gradient = np.empty_like(log_params)
        for i in range(log_params.size):
            shift = np.zeros_like(log_params)
            shift[i] = step
            gradient[i] = (value(log_params + shift) - value(log_params - shift)) / (2 * step)
        return value(log_params), gradient

    return objective


def maximise(
    objective: Objective, start: FloatArray, model: str, customers: int, penalizer: float = 0.0
) -> FloatArray:
    """Log-parameters at the maximum of the likelihood (penalized by `penalizer`, see the module docstring),
    found by BFGS from `start`.

    The objective is the negative log-likelihood per customer, so the tolerance means the same thing for a
    hundred customers as for a million; the penalty is divided by the customers to keep its total weight.
    """
    if not penalizer >= 0:
        raise ClvInputInvalid(f"the penalizer must be 0 or more, got {penalizer}")
    weight = penalizer / customers

    def penalized(log_params: FloatArray) -> tuple[float, FloatArray]:
        value, gradient = objective(log_params)
        return value + weight * float(log_params @ log_params), gradient + 2 * weight * log_params

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = minimize(
            penalized if penalizer else objective,
            start,
            jac=True,
            method="BFGS",
            options={"gtol": 1e-8, "maxiter": 2000},
        )
    # BFGS reports "precision loss" when it cannot improve further at machine precision: that is the
    # optimum for our purposes provided the gradient is small.
    gradient = np.asarray(result.jac, dtype=np.float64)
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun) or np.max(np.abs(gradient)) > 1e-4:
        raise ClvFitFailed(model, customers, str(result.message), penalizer)
    return np.asarray(result.x, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Fit(Generic[ModelT]):
    """A fitted model with the log-likelihood at its parameters (without the penalty), the number of customers
    it saw, and the penalizer it was fitted with (0: maximum likelihood)."""

    model: ModelT
    log_likelihood: float
    customers: int
    penalizer: float = 0.0
