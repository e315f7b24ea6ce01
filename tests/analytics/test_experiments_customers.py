"""The split randomises customers, and customers re-enter: the customer is the unit of every check and test.

The engine picks a run's arm from a hash of journey, node and customer id, so a customer who enters a
journey twenty times brings twenty runs to one arm, converting (or not) in much the same way each time.
Counted as runs, a few such customers make a healthy split look mismatched and make correlated runs look
like independent evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import ENGINES, open_engine
from rumbo.analytics.experiments import ExperimentRuns, _cumulative, analyse_experiments, analyse_runs
from rumbo.analytics.stats import design_effect, sample_ratio_mismatch, two_proportion_test
from tests.analytics.test_experiments_archive import _records

DAY = 86400.0
ALPHA = 0.05
WEIGHTS = {("j", "s"): {"A": 45.0, "B": 45.0, "holdout": 10.0}}


def test_design_effect_worked_by_hand() -> None:
    # Customers (runs, conversions): (1, 1), (3, 0), (2, 2), (4, 1). x = 4, n = 10, p̂ = 0.4;
    # Σ n² = 1 + 9 + 4 + 16 = 30, Σ x n = 1 + 0 + 4 + 4 = 9, Σ x² = 1 + 0 + 4 + 1 = 6.
    # Σ (x_i - p̂ n_i)² = 6 - 2·0.4·9 + 0.16·30 = 3.6; n p̂ (1 - p̂) = 2.4; deff = 1.5.
    assert float(design_effect(4, 10, 30, 9, 6)) == pytest.approx(1.5)
    # At the rate 0.5: (6 - 9 + 7.5) / (4 - 4 + 2.5) = 4.5 / 2.5 = 1.8.
    assert float(design_effect(4, 10, 30, 9, 6, rate=0.5)) == pytest.approx(1.8)
    # One run per customer: (n, x, x) gives exactly 1, whatever the rate.
    assert float(design_effect(4, 10, 10, 4, 4)) == 1.0
    assert float(design_effect(4, 10, 10, 4, 4, rate=0.3)) == pytest.approx(1.0)


def test_the_z_test_with_customer_sums_widens_by_the_design_effect() -> None:
    plain = two_proportion_test(12, 200, 20, 200)
    # Same counts, every customer with two runs that agree: deff 2 at any rate, so every variance doubles.
    clustered = two_proportion_test(
        12, 200, 20, 200, control_sums=(400, 24, 24), treatment_sums=(400, 40, 40)
    )
    assert clustered.z == pytest.approx(plain.z / np.sqrt(2))
    half = (plain.absolute_ci[1] - plain.absolute_ci[0]) / 2
    assert (clustered.absolute_ci[1] - clustered.absolute_ci[0]) / 2 == pytest.approx(half * np.sqrt(2))


def _customers_runs(
    seed: int,
    customers: int,
    *,
    arms: tuple[tuple[str, float], ...] = (("A", 0.45), ("B", 0.45), ("holdout", 0.1)),
    days: float = 28.0,
) -> ExperimentRuns:
    """Customers assigned once to an arm, each making a heavy-tailed number of runs (many 1, a few 60), each
    with their own conversion propensity: an A/A test clustered by customer."""
    rng = np.random.default_rng(seed)
    names, shares = zip(*arms, strict=True)
    arm = rng.choice(np.asarray(names), size=customers, p=np.asarray(shares) / sum(shares))
    per_customer = np.minimum(rng.zipf(1.8, size=customers), 60)
    propensity = rng.beta(0.6, 0.6, size=customers)
    who = np.repeat(np.arange(customers), per_customer)
    n = who.size
    split_at = rng.uniform(0, days * DAY, n)
    converts = rng.uniform(size=n) < propensity[who]
    converted_at = np.where(converts, split_at + rng.uniform(0, DAY, n), np.nan)
    return ExperimentRuns(
        journey=["j"] * n,
        node=["s"] * n,
        variant=arm[who].tolist(),
        split_at=split_at,
        converted_at=converted_at,
        value=np.zeros(n),
        customer=[f"c{c}" for c in who],
    )


def test_srm_counts_customers_so_uneven_re_entry_is_not_a_mismatch() -> None:
    runs = _customers_runs(seed=7, customers=2000)
    (split,) = analyse_runs(runs, weights=WEIGHTS).splits
    assert split.srm is not None and not split.srm.mismatch
    assert sum(split.srm.observed.values()) == 2000
    assert split.crossed_customers == 0
    # The same data counted as runs: a handful of customers with 60 runs each swamp the ratio.
    by_runs = sample_ratio_mismatch({a.variant: a.runs for a in split.arms}, WEIGHTS[("j", "s")])
    assert by_runs.mismatch
    assert not any("SAMPLE RATIO MISMATCH" in n for n in analyse_runs(runs, weights=WEIGHTS).notes())


def test_a_customer_in_two_arms_is_reported(tmp_path: Path) -> None:
    # In the archive of test_experiments_archive, give one B run the customer of an A run.
    records: dict[str, list[dict[str, Any]]] = _records(with_decisions=True)
    for rows in records.values():
        for row in rows:
            if row["run"] == "cart-recovery-B-0":
                row["customer"] = "c-cart-recovery-A-0"
    archive = Archive(tmp_path)
    for kind, rows in records.items():
        archive.append(kind, rows)
    for engine in ENGINES:
        result = analyse_experiments(open_engine(archive, engine), journey="cart-recovery")
        (split,) = result.splits
        assert (split.crossed_customers, split.crossed_examples) == (1, ("c-cart-recovery-A-0",))
        assert {a.variant: a.customers for a in split.arms} == {"holdout": 100, "A": 400, "B": 400}
        assert any(
            n.startswith("ASSIGNMENT FAULT at cart-recovery/split: 1 customers") for n in result.notes()
        )
        assert result.to_dict()["splits"][0]["crossed_examples"] == ["c-cart-recovery-A-0"]


def test_cumulative_customer_sums_match_a_count_at_every_look() -> None:
    runs = _customers_runs(seed=3, customers=200)
    mask = np.asarray(runs.variant) == "A"
    success = ~np.isnan(runs.converted_at)
    codes = runs.customer_codes()
    mature_at = runs.split_at + DAY
    looks = np.arange(1, 31) * DAY
    x_at, n_at, (n2, xn, x2) = _cumulative(mature_at, success, mask, looks, codes)
    for i, look in enumerate(looks):
        counted = mask & (mature_at <= look)
        n_i = np.bincount(codes[counted], minlength=codes.max() + 1).astype(float)
        x_i = np.bincount(codes[counted], weights=success[counted], minlength=codes.max() + 1)
        assert (x_at[i], n_at[i]) == (x_i.sum(), n_i.sum())
        assert (n2[i], xn[i], x2[i]) == pytest.approx(((n_i**2).sum(), (x_i * n_i).sum(), (x_i**2).sum()))


def test_clustered_runs_keep_the_z_test_at_alpha_and_inflate_it_without() -> None:
    # 400 A/A experiments of 300 customers split 50:50, about 1,550 runs each: runs of one customer share
    # a propensity drawn from Beta(0.6, 0.6), so they convert alike. Treating runs as independent rejected
    # 60% of these; clustered by customer, 4.5%. The always-valid test, clustered too, stays below α.
    fixed, naive, sequential = [], [], []
    for seed in range(400):
        runs = _customers_runs(seed, 300, arms=(("A", 0.5), ("B", 0.5)))
        (split,) = analyse_runs(runs, windows={"j": 2 * DAY}).splits
        (c,) = split.comparisons
        a, b = (next(arm for arm in split.arms if arm.variant == v) for v in ("A", "B"))
        fixed.append(c.fixed.p_value <= ALPHA)
        sequential.append(c.sequential.p_value <= ALPHA)
        naive.append(two_proportion_test(a.conversions, a.runs, b.conversions, b.runs).p_value <= ALPHA)
    assert float(np.mean(naive)) > 0.4
    assert float(np.mean(fixed)) <= 0.07
    assert float(np.mean(sequential)) <= ALPHA
