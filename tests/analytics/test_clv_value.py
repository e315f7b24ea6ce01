"""Lifetime value: discounting by hand, the scored result on CDNOW, and the traits written back."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import orjson
import pytest

from rumbo.analytics.clv.analysis import analyze_clv
from rumbo.analytics.clv.fitting import ClvFitFailed, ClvInputInvalid
from rumbo.analytics.clv.summary import PurchaseSummary
from rumbo.analytics.clv.traits import TRAITS, write_traits
from rumbo.analytics.clv.value import discounted_expected_purchases, expected_value

DATA = Path(__file__).parent / "data"
COMPUTED_AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SteadyBuyer:
    """A stand-in frequency model: every customer buys `rate` times per unit of time, for sure."""

    rate: float
    name: ClassVar[str] = "steady"

    def params(self) -> dict[str, float]:
        return {"rate": self.rate}

    def expected_purchases(
        self, t: npt.ArrayLike, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        shape = np.broadcast(np.asarray(frequency), np.asarray(T)).shape
        return np.full(shape, self.rate * float(np.asarray(t)))

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        return np.ones(np.broadcast(np.asarray(frequency), np.asarray(T)).shape)


def test_discounting_by_hand() -> None:
    # Time in years (365.25 days), one purchase a year, 10% a year, two years, 10 per purchase:
    # 10/1.1 + 10/1.21 = 9.090909 + 8.264463 = 17.355372.
    value = expected_value(
        SteadyBuyer(1.0), 10.0, 2.0, [1], [1.0], [2.0], annual_discount_rate=0.1, unit_days=365.25
    )
    assert value[0] == pytest.approx(17.355372, abs=1e-6)
    # Weeks, over 2.5 weeks at 52.18 weeks a year: steps end at 1, 2 and 2.5 weeks with 1, 1 and 0.5
    # purchases; factors 1.1^(-k/52.178571). By hand: 0.998175 + 0.996353 + 0.5 * 0.995444 = 2.492250.
    purchases = discounted_expected_purchases(
        SteadyBuyer(1.0), 2.5, [0], [0.0], [1.0], annual_discount_rate=0.1, unit_days=7.0
    )
    assert purchases[0] == pytest.approx(2.492250, abs=1e-6)


def test_no_discount_is_spend_times_expected_purchases() -> None:
    value = expected_value(SteadyBuyer(0.5), [4.0, 8.0], 13.0, [0, 3], [0.0, 2.0], [5.0, 5.0])
    np.testing.assert_allclose(value, [26.0, 52.0])


@pytest.mark.parametrize("horizon, rate", [(0.0, 0.0), (5.0, -0.1), (5.0, math.inf)])
def test_bad_horizon_or_rate_is_refused(horizon: float, rate: float) -> None:
    with pytest.raises(ClvInputInvalid):
        discounted_expected_purchases(SteadyBuyer(1.0), horizon, [0], [0.0], [1.0], annual_discount_rate=rate)


@pytest.fixture(scope="module")
def cdnow_summary() -> PurchaseSummary:
    with (DATA / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return PurchaseSummary(
        customers=tuple(row["ID"] for row in rows),
        frequency=np.array([float(row["x"]) for row in rows]),
        recency=np.array([float(row["t_x"]) for row in rows]),
        T=np.array([float(row["T"]) for row in rows]),
        monetary=np.array([float(row["zbar"]) for row in rows]),
        unit_days=7.0,
        observation_end=date(1997, 9, 30),
    )


def test_cdnow_scores_combine_the_published_models(cdnow_summary: PurchaseSummary) -> None:
    result = analyze_clv(cdnow_summary, horizon_days=39 * 7, computed_at=COMPUTED_AT)
    assert result.horizon == "39w"
    data = result.to_dict()
    assert data["model"] == "bgnbd"
    assert data["spend_model"] == "gammagamma"
    assert data["spend_customers"] == 946
    assert data["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    rows = {row["customer"]: row for row in data["customers"]}
    assert len(rows) == 2357
    # Customer 1 (x=2, t_x=30.43, T=38.86, z̄=22.35): 1.226 purchases in 39 weeks (Fader, Hardie & Lee
    # 2005) at about 24.66 each (Gamma-Gamma by hand in test_clv_models), so about 1.226 * 24.66 = 30.2.
    first = rows["1"]
    assert first["expected_purchases"] == pytest.approx(1.226, abs=0.002)
    assert first["expected_spend"] == pytest.approx(24.66, abs=0.02)
    assert first["expected_value"] == pytest.approx(1.226 * 24.66, abs=0.1)
    values = [row["expected_value"] for row in data["customers"]]
    assert values == sorted(values, reverse=True)
    assert data["totals"]["expected_value"] == pytest.approx(sum(values))
    assert orjson.loads(orjson.dumps(data)) == data  # JSON-ready as it stands
    table = result.to_table()
    assert table.num_rows == 2357
    assert table.column_names[-4:] == [
        "expected_purchases",
        "probability_alive",
        "expected_spend",
        "expected_value",
    ]


def test_discounting_lowers_value_and_paretonbd_is_offered(cdnow_summary: PurchaseSummary) -> None:
    plain = analyze_clv(cdnow_summary, model="paretonbd", horizon_days=364, computed_at=COMPUTED_AT)
    discounted = analyze_clv(
        cdnow_summary, model="paretonbd", horizon_days=364, annual_discount_rate=0.15, computed_at=COMPUTED_AT
    )
    assert plain.to_dict()["parameters"]["beta"] == pytest.approx(11.67, abs=0.005)
    assert plain.expected_value is not None and discounted.expected_value is not None
    ratio = discounted.expected_value.sum() / plain.expected_value.sum()
    # Purchases spread over one year at 15%: the average factor lies between 1/1.15 and 1.
    assert 1 / 1.15 < ratio < 1.0


def test_without_order_values_spend_is_left_out_and_said_so(cdnow_summary: PurchaseSummary) -> None:
    no_values = PurchaseSummary(
        customers=cdnow_summary.customers,
        frequency=cdnow_summary.frequency,
        recency=cdnow_summary.recency,
        T=cdnow_summary.T,
        monetary=np.zeros_like(cdnow_summary.monetary),
        unit_days=7.0,
        observation_end=None,
    )
    result = analyze_clv(no_values, computed_at=COMPUTED_AT)
    assert result.expected_value is None
    assert any("spend not modelled" in note for note in result.notes)
    assert result.to_table().column("expected_value").null_count == 2357


def test_traits_are_identify_events_ingestion_can_take(
    cdnow_summary: PurchaseSummary, tmp_path: Path
) -> None:
    result = analyze_clv(cdnow_summary, horizon_days=90, computed_at=COMPUTED_AT)
    path = tmp_path / "traits" / "clv.jsonl"
    assert write_traits(result, path) == 2357
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len({e["messageId"] for e in events}) == 2357
    first = next(e for e in events if e["userId"] == "1")
    assert first["type"] == "identify"
    assert first["timestamp"] == "2026-11-23T08:00:00Z"
    assert tuple(first["traits"]) == TRAITS
    assert first["traits"]["clv_computed_at"] == "2026-11-23T08:00:00Z"
    assert 0.0 < first["traits"]["clv_probability_alive"] < 1.0
    row = next(r for r in result.to_dict()["customers"] if r["customer"] == "1")
    assert first["traits"]["clv_expected_value"] == pytest.approx(row["expected_value"])
    # The same computation written again gives the same ids, so ingestion deduplicates a resend.
    again = tmp_path / "again.jsonl"
    write_traits(result, again)
    assert again.read_bytes() == path.read_bytes()


def test_a_base_too_small_for_maximum_likelihood_is_fitted_with_a_weak_prior_and_said_so() -> None:
    rng = np.random.default_rng(1)
    T = rng.uniform(5, 40, 5)
    x = rng.poisson(1.0, 5).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 1, 5) * T, 0.0)
    summary = PurchaseSummary(
        tuple(f"c{i}" for i in range(5)), x, t_x, T, np.full(5, 20.0), unit_days=7.0, observation_end=None
    )
    result = analyze_clv(summary, computed_at=COMPUTED_AT)
    assert result.penalizer == 0.05 and result.to_dict()["penalizer"] == 0.05
    assert any(
        "no maximum-likelihood fit on these 5 customers" in n and "penalizer 0.05" in n for n in result.notes
    )
    assert np.all(np.isfinite(result.expected_purchases)) and np.all(result.probability_alive <= 1)
    # Asked for plain maximum likelihood, the failure is reported instead.
    with pytest.raises(ClvFitFailed):
        analyze_clv(summary, computed_at=COMPUTED_AT, penalizer=0.0)
