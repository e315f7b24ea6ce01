"""BG/NBD, Pareto/NBD and Gamma-Gamma against published figures, hand arithmetic and the models' definitions.

Published figures come from the CDNOW sample (2,357 customers, 39-week calibration) in
tests/analytics/data (see the README there): Fader, Hardie & Lee (2005) for BG/NBD and Pareto/NBD, Fader &
Hardie (2013) for Gamma-Gamma. Where nothing is published, the check is against the model's own definition
computed another way: numerical integration of the likelihood, or customers simulated from the model.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gammaln

from rumbo.analytics.clv.bgnbd import BgNbd, fit_bgnbd
from rumbo.analytics.clv.fitting import ClvFitFailed, ClvInputInvalid, Fit
from rumbo.analytics.clv.gammagamma import GammaGamma, fit_gammagamma
from rumbo.analytics.clv.paretonbd import ParetoNbd, fit_paretonbd

DATA = Path(__file__).parent / "data"


def significant(value: float, figures: int = 3) -> float:
    """``value`` rounded to ``figures`` significant figures."""
    return round(value, figures - 1 - math.floor(math.log10(abs(value))))


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    with (DATA / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {name: np.array([float(row[name]) for row in rows]) for name in ("x", "t_x", "T", "zbar")}


# --- BG/NBD ------------------------------------------------------------------------------------------


def test_bgnbd_reproduces_the_published_cdnow_estimates(cdnow: dict[str, np.ndarray]) -> None:
    fit = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert significant(fit.model.params()[name]) == significant(value), (name, fit.model.params())
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert fit.customers == 2357


def test_bgnbd_conditional_expectation_matches_the_papers_worked_example() -> None:
    # Fader, Hardie & Lee (2005), CDNOW customer 1: x=2, t_x=30.43, T=38.86 -> 1.226 purchases in 39 weeks.
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert model.expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=5e-4)


def test_bgnbd_probability_alive_by_hand() -> None:
    # 1 / (1 + a/(b+x-1) * ((α+T)/(α+t_x))^(r+x)) with the published parameters:
    # a/(b+1) = 0.793/3.426 = 0.231465; (4.414+38.86)/(4.414+30.43) = 43.274/34.844 = 1.241935;
    # 1.241935^2.243 = exp(2.243 * 0.216672) = exp(0.485996) = 1.625847; 1/(1 + 0.231465*1.625847) = 0.72657.
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    alive = model.probability_alive([0, 2], [0.0, 30.43], [38.86, 38.86])
    assert alive[0] == 1.0  # no repeat purchase yet: the model has had no chance to drop the customer
    assert alive[1] == pytest.approx(0.72657, abs=1e-5)


def test_bgnbd_stays_finite_for_very_frequent_buyers() -> None:
    # The paper's form of equation (10) overflows in the hypergeometric term for large x.
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    horizons = np.array([1.0, 10.0, 39.0, 520.0])
    expected = model.expected_purchases(horizons, 500, 38.8, 38.86)
    assert np.all(np.isfinite(expected))
    assert np.all(np.diff(expected) > 0)
    # Over one week an active buyer of ~500 purchases in 39 weeks makes about (r+x)/(α+T) = 11.6 purchases.
    assert expected[0] == pytest.approx((0.243 + 500) / (4.414 + 38.86), rel=0.02)


def test_bgnbd_new_customer_expectation_starts_at_the_purchase_rate() -> None:
    # For small t, a new customer is alive and buys at E[λ] = r/α per unit of time.
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert model.expected_purchases_new(1e-4)[0] / 1e-4 == pytest.approx(0.243 / 4.414, rel=1e-3)


# --- Pareto/NBD --------------------------------------------------------------------------------------


def test_paretonbd_reproduces_the_published_cdnow_estimates(cdnow: dict[str, np.ndarray]) -> None:
    fit = fit_paretonbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    published = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    for name, value in published.items():
        # Published to two decimals: r and s have only two significant figures there.
        assert round(fit.model.params()[name], 2) == value, (name, fit.model.params())
        assert significant(fit.model.params()[name]) == pytest.approx(significant(value), abs=0.011)
    assert fit.log_likelihood == pytest.approx(-9595.0, abs=0.05)


def _pareto_log_likelihood_by_quadrature(model: ParetoNbd, x: float, t_x: float, T: float) -> float:
    """The likelihood from its integral form: alive through T, or leaving at τ in (t_x, T]."""
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta
    lead = gammaln(r + x) - gammaln(r) + r * math.log(alpha) + s * math.log(beta)
    # Scale the integrand by its value at t_x so quad works near 1 rather than near 1e-300.
    shift = -(r + x) * math.log(alpha + t_x) - (s + 1) * math.log(beta + t_x)

    def integrand(tau: float) -> float:
        return math.exp(-(r + x) * math.log(alpha + tau) - (s + 1) * math.log(beta + tau) - shift)

    integral, _ = quad(integrand, t_x, T, epsabs=0.0, epsrel=1e-12, limit=200)
    alive = -(r + x) * math.log(alpha + T) - s * math.log(beta + T)
    dead = math.log(s) + shift + math.log(integral) if integral > 0 else -math.inf
    return float(lead + np.logaddexp(alive, dead))


@pytest.mark.parametrize("alpha, beta", [(10.58, 11.67), (12.0, 3.0), (5.0, 5.0)])
@pytest.mark.parametrize(
    "x, t_x, T", [(0, 0.0, 38.86), (2, 30.43, 38.86), (26, 30.86, 31.0), (400, 20.0, 39.0), (3, 10.0, 10.0)]
)
def test_paretonbd_likelihood_matches_its_integral_form(
    alpha: float, beta: float, x: float, t_x: float, T: float
) -> None:
    model = ParetoNbd(r=0.55, alpha=alpha, s=0.61, beta=beta)
    expected = _pareto_log_likelihood_by_quadrature(model, x, t_x, T)
    assert model.log_likelihood(x, t_x, T)[0] == pytest.approx(expected, rel=1e-9, abs=1e-9)


# --- Both frequency models against customers simulated from them --------------------------------------


def _simulate(
    rng: np.random.Generator,
    lam: np.ndarray,
    alive_until: np.ndarray | None,
    p: np.ndarray | None,
    T: np.ndarray,
    horizon: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Histories (x, t_x), alive-at-T flags and purchases in (T, T+horizon] for each customer.

    Pareto/NBD customers leave at `alive_until`; BG/NBD customers leave after a repeat purchase with
    probability `p`.
    """
    n = lam.size
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    x = np.zeros(n)
    t_x = np.zeros(n)
    future = np.zeros(n)
    death = np.full(n, np.inf) if alive_until is None else alive_until.copy()
    while np.any(active):
        now = np.where(active, now + rng.exponential(1.0 / lam), now)
        active &= (now <= T + horizon) & (now <= death)
        in_history = active & (now <= T)
        x += in_history
        t_x = np.where(in_history, now, t_x)
        future += active & (now > T)
        if p is not None:
            dies = active & (rng.random(n) < p)
            death = np.where(dies, now, death)
            active &= ~dies
    return x, t_x, death > T, future


@pytest.fixture(scope="module")
def simulated_bgnbd() -> tuple[BgNbd, tuple[np.ndarray, ...]]:
    truth = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    rng = np.random.default_rng(20261123)
    n = 30000
    T = rng.uniform(27.0, 39.0, n)
    lam = rng.gamma(truth.r, 1.0 / truth.alpha, n)
    p = rng.beta(truth.a, truth.b, n)
    return truth, (*_simulate(rng, lam, None, p, T, 39.0), T)


@pytest.fixture(scope="module")
def simulated_paretonbd() -> tuple[ParetoNbd, tuple[np.ndarray, ...]]:
    truth = ParetoNbd(r=0.55, alpha=10.58, s=0.61, beta=11.67)
    rng = np.random.default_rng(20261124)
    n = 30000
    T = rng.uniform(27.0, 39.0, n)
    lam = rng.gamma(truth.r, 1.0 / truth.alpha, n)
    lifetime = rng.exponential(1.0 / rng.gamma(truth.s, 1.0 / truth.beta, n))
    return truth, (*_simulate(rng, lam, lifetime, None, T, 39.0), T)


@pytest.mark.parametrize("which", ["bgnbd", "paretonbd"])
def test_predictions_match_what_simulated_customers_then_do(
    which: str,
    simulated_bgnbd: tuple[BgNbd, tuple[np.ndarray, ...]],
    simulated_paretonbd: tuple[ParetoNbd, tuple[np.ndarray, ...]],
) -> None:
    truth, (x, t_x, alive, future, T) = simulated_bgnbd if which == "bgnbd" else simulated_paretonbd
    expected = truth.expected_purchases(39.0, x, t_x, T)
    # E[future | history] summed over customers equals the expected total; the simulated total differs by
    # sampling noise only (its standard error is about 1% of it here).
    assert expected.sum() == pytest.approx(future.sum(), rel=0.04)
    # The same holds within groups of past behaviour, which is where the conditioning matters.
    for group in (x == 0, (x >= 1) & (x <= 3), x >= 4):
        assert expected[group].sum() == pytest.approx(future[group].sum(), rel=0.08)
    assert truth.probability_alive(x, t_x, T).mean() == pytest.approx(alive.mean(), abs=0.015)


def test_fits_recover_the_parameters_customers_were_simulated_from(
    simulated_bgnbd: tuple[BgNbd, tuple[np.ndarray, ...]],
    simulated_paretonbd: tuple[ParetoNbd, tuple[np.ndarray, ...]],
) -> None:
    # Times are recorded by the day, as purchases are: many customers then share a history, which keeps
    # the fit quick without changing what it estimates.
    def by_day(weeks: np.ndarray) -> np.ndarray:
        return np.floor(weeks * 7.0) / 7.0

    truth_bg, (x, t_x, _, _, T) = simulated_bgnbd
    fitted_bg = fit_bgnbd(x, by_day(t_x), by_day(T)).model
    for name, value in truth_bg.params().items():
        assert fitted_bg.params()[name] == pytest.approx(value, rel=0.25), name
    # Pareto/NBD fits take longer (no analytic gradient), so they see the first 10,000 customers only.
    truth_p, (x, t_x, _, _, T) = simulated_paretonbd
    first = slice(0, 10000)
    fitted_p = fit_paretonbd(x[first], by_day(t_x[first]), by_day(T[first])).model
    # The purchase side is identified well. Thirty-nine weeks say less about how long customers stay:
    # s and β trade off against each other (checked separately that 200,000 customers give s = 0.610).
    assert fitted_p.r == pytest.approx(truth_p.r, rel=0.15)
    assert fitted_p.s == pytest.approx(truth_p.s, rel=0.3)
    assert fitted_p.r / fitted_p.alpha == pytest.approx(truth_p.r / truth_p.alpha, rel=0.1)


# --- Gamma-Gamma -------------------------------------------------------------------------------------


def test_gammagamma_reproduces_the_published_cdnow_estimates(cdnow: dict[str, np.ndarray]) -> None:
    fit = fit_gammagamma(cdnow["x"], cdnow["zbar"])
    assert fit.customers == 946  # the repeat customers of the calibration period
    published = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    for name, value in published.items():
        assert significant(fit.model.params()[name]) == significant(value), (name, fit.model.params())


def test_gammagamma_expected_spend_by_hand() -> None:
    model = GammaGamma(p=6.25, q=3.74, gamma=15.44)
    # Nothing known: pγ/(q-1) = 96.5/2.74 = 35.2190. Customer 1 (x=2, z̄=22.35):
    # p(γ + x z̄)/(px + q - 1) = 6.25 * 60.14 / 15.24 = 24.6637.
    spend = model.expected_spend([0, 2], [0.0, 22.35])
    assert spend[0] == pytest.approx(35.2190, abs=1e-4)
    assert spend[1] == pytest.approx(24.6637, abs=1e-4)
    assert model.population_mean_spend() == pytest.approx(35.2190, abs=1e-4)


# --- Input checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frequency, recency, T, message",
    [
        ([1, 2], [3.0, 5.0], [2.0, 9.0], "recency must be <= T"),
        ([1.5], [1.0], [2.0], "frequency must be whole"),
        ([0], [1.0], [2.0], "recency must be 0 for customers with frequency 0"),
        ([1, 2], [1.0, 1.0, 1.0], [2.0, 3.0], "differ in length"),
        ([], [], [], "empty"),
        ([1], [float("nan")], [2.0], "recency has missing or infinite values"),
    ],
)
def test_inconsistent_histories_are_refused_with_the_reason(
    frequency: list[float], recency: list[float], T: list[float], message: str
) -> None:
    with pytest.raises(ClvInputInvalid, match=message):
        fit_bgnbd(frequency, recency, T)


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_paretonbd])
def test_histories_without_any_repeat_purchase_are_refused(fit: Callable[..., object]) -> None:
    # Every likelihood then peaks at a boundary (purchase rate 0): there is nothing to estimate.
    with pytest.raises(ClvInputInvalid, match="none of the 3 customers has a repeat purchase"):
        fit([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 6.0, 7.0])


def test_gammagamma_needs_repeat_customers_with_spend() -> None:
    with pytest.raises(ClvInputInvalid, match="at least two customers"):
        fit_gammagamma([0, 0, 3], [0.0, 0.0, 10.0])


# --- fitting without a maximum -------------------------------------------------------------------------


def few_customers_without_a_maximum() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Five customers whose BG/NBD likelihood keeps rising as the parameters run off to infinity."""
    rng = np.random.default_rng(1)
    T = rng.uniform(5, 40, 5)
    x = rng.poisson(1.0, 5).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 1, 5) * T, 0.0)
    return x, t_x, T


def test_a_fit_without_a_maximum_says_to_try_a_penalizer() -> None:
    with pytest.raises(ClvFitFailed, match=r"did not converge on 5 customers.*--penalizer 0\.05"):
        fit_bgnbd(*few_customers_without_a_maximum())


def test_a_penalizer_gives_a_fit_near_the_prior_where_the_data_say_little() -> None:
    x, t_x, T = few_customers_without_a_maximum()
    weak, strong = fit_bgnbd(x, t_x, T, penalizer=0.05), fit_bgnbd(x, t_x, T, penalizer=5.0)
    assert (weak.penalizer, strong.penalizer) == (0.05, 5.0)
    assert all(math.isfinite(v) and v > 0 for v in weak.model.params().values())
    # A stronger prior pulls the (rescaled) parameters closer to 1, where their logarithms are 0.
    scale = 10.0 / T.max()

    def spread(fit: Fit[BgNbd]) -> float:
        m = fit.model
        return sum(abs(math.log(v)) for v in (m.r, m.alpha * scale, m.a, m.b))

    assert spread(strong) < spread(weak)


def test_a_weak_penalizer_leaves_a_large_sample_where_the_data_put_it(cdnow: dict[str, np.ndarray]) -> None:
    plain = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    penalized = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"], penalizer=0.05)
    for name, value in plain.model.params().items():
        assert penalized.model.params()[name] == pytest.approx(value, rel=0.01), name
    assert penalized.log_likelihood == pytest.approx(plain.log_likelihood, abs=0.5)


def test_a_negative_penalizer_is_refused() -> None:
    with pytest.raises(ClvInputInvalid, match="penalizer must be 0 or more"):
        fit_bgnbd(*few_customers_without_a_maximum(), penalizer=-1.0)
