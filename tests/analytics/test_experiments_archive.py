"""Experiments read from an archive, on DuckDB and ClickHouse, against counts and figures worked by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import ENGINES, open_engine
from rumbo.analytics.experiments import (
    NoExperiment,
    analyse_experiments,
    parse_weights,
    weights_from_journeys,
)
from rumbo.errors import AnalyticsError

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "journeys"

# cart-recovery / split: holdout 100 runs (10 convert), A 400 (60), B 400 (80) — spread over 4 days.
# welcome / split: holdout 200 runs (20 convert), A 200 (30); no B.
PLAN: dict[str, dict[str, tuple[int, int]]] = {
    "cart-recovery": {"holdout": (100, 10), "A": (400, 60), "B": (400, 80)},
    "welcome": {"holdout": (200, 20), "A": (200, 30)},
}


def _records(with_decisions: bool) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"transition": [], "decision": [], "conversion": []}
    for journey, arms in PLAN.items():
        for variant, (runs, conversions) in arms.items():
            for i in range(runs):
                run = f"{journey}-{variant}-{i}"
                at = T0 + (i % 4) * DAY + 3600
                base = {
                    "workspace": "w",
                    "customer": f"c-{run}",
                    "journey": journey,
                    "version": 1,
                    "run": run,
                }
                out["transition"] += [
                    {**base, "from_node": None, "to_node": "start", "cause": "entered", "at": at - 3600},
                    {**base, "from_node": "start", "to_node": "split", "cause": "next", "at": at},
                    {
                        **base,
                        "from_node": "split",
                        "to_node": None if variant == "holdout" else "send",
                        "cause": "next",
                        "at": at,
                        "variant": variant,
                    },
                ]
                if variant != "holdout":
                    out["transition"].append(
                        {
                            **base,
                            "from_node": "send",
                            "to_node": None,
                            "cause": "next",
                            "at": at + 60,
                            "variant": variant,
                        }
                    )
                if with_decisions:
                    out["decision"].append(
                        {
                            **base,
                            "node": "split",
                            "candidates": [],
                            "chosen": variant,
                            "policy": "split",
                            "at": at,
                        }
                    )
                if i < conversions:
                    out["conversion"].append(
                        {**base, "goal": "order_completed", "value": 20.0, "at": at + 2 * DAY}
                    )
    return out


def build_archive(root: Path, with_decisions: bool) -> Archive:
    archive = Archive(root)
    for kind, rows in _records(with_decisions).items():
        if rows:
            archive.append(kind, rows)
    return archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(tmp_path_factory.mktemp("experiments"), with_decisions=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_arms_and_fixed_horizon_test_on_each_engine(archive: Archive, engine: str) -> None:
    result = analyse_experiments(open_engine(archive, engine), journey="cart-recovery")
    (split,) = result.splits
    assert (split.journey, split.node, split.control) == ("cart-recovery", "split", "holdout")
    assert {a.variant: (a.runs, a.conversions) for a in split.arms} == PLAN["cart-recovery"]
    b = next(c for c in split.comparisons if c.variant == "B")
    # B 80/400 = 0.20 against holdout 10/100 = 0.10. Pooled 90/500 = 0.18:
    # z = 0.10 / sqrt(0.18·0.82·(1/100 + 1/400)) = 0.10 / 0.0429535 = 2.328100, p = 0.019905.
    assert b.fixed.z == pytest.approx(2.328100, abs=1e-5)
    assert b.fixed.p_value == pytest.approx(0.019905, abs=1e-5)
    assert b.fixed.relative_lift == pytest.approx(1.0)
    # Conversions land two days after the split, so the last look is day 6 (0-based 5) of the data.
    assert split.looks == 6


def test_both_engines_give_the_same_numbers(archive: Archive) -> None:
    results = [analyse_experiments(open_engine(archive, e)).to_dict() for e in ENGINES]
    for r in results:
        r["parameters"].pop("engine")
    assert results[0] == results[1]


def test_transitions_stand_in_when_the_archive_has_no_split_decisions(tmp_path: Path) -> None:
    archive = build_archive(tmp_path, with_decisions=False)
    for engine in ENGINES:
        result = analyse_experiments(open_engine(archive, engine))
        counts = {(s.journey, a.variant): (a.runs, a.conversions) for s in result.splits for a in s.arms}
        assert counts == {(j, v): rc for j, arms in PLAN.items() for v, rc in arms.items()}


def test_journey_and_programme_uplift_against_the_holdouts(archive: Archive) -> None:
    result = analyse_experiments(open_engine(archive))
    cart, welcome = result.journeys
    # cart-recovery: treated 140/800 = 0.175 against 10/100 = 0.10 -> uplift 0.075,
    # SE = sqrt(0.175·0.825/800 + 0.1·0.9/100) = sqrt(0.000180469 + 0.0009) = 0.0328702.
    assert cart.uplift == pytest.approx(0.075)
    assert cart.ci[0] == pytest.approx(0.075 - 1.959964 * 0.0328702, abs=1e-6)
    assert cart.incremental_conversions == pytest.approx(60.0)  # 800 · 0.075
    # welcome: 30/200 = 0.15 against 20/200 = 0.10 -> uplift 0.05, 10 incremental conversions.
    assert welcome.uplift == pytest.approx(0.05)
    # Programme, weighted by treated runs: (60 + 10) incremental over 1,000 treated runs = 0.07;
    # relative to the 800·0.1 + 200·0.1 = 100 conversions expected without the journeys: +70%.
    programme = result.programme
    assert programme is not None
    assert programme.uplift == pytest.approx(0.07)
    assert programme.incremental_conversions == pytest.approx(70.0)
    assert programme.relative == pytest.approx(0.7)
    # SE² = 0.8²·0.0328702² + 0.2²·(0.15·0.85/200 + 0.1·0.9/200) = 0.000691494 + 0.0000435 = 0.000734994.
    low, high = programme.ci
    assert (high - low) / 2 == pytest.approx(1.959964 * math.sqrt(0.000734994), rel=1e-5)


def test_srm_with_the_weights_of_the_journey_file(archive: Archive) -> None:
    weights = weights_from_journeys([str(EXAMPLES / "cart-recovery.yaml")])
    assert weights[("cart-recovery", "split")] == pytest.approx({"A": 0.45, "B": 0.45, "holdout": 0.1})
    result = analyse_experiments(open_engine(archive), journey="cart-recovery", weights=weights)
    srm = result.splits[0].srm
    assert srm is not None
    # 400/400/100 against 405/405/90: chi² = 2·25/405 + 100/90 = 1.234568; 2 df, p = exp(-chi²/2) = 0.539408.
    assert srm.chi2 == pytest.approx(1.234568, abs=1e-6)
    assert srm.p_value == pytest.approx(0.539408, abs=1e-6)
    assert not srm.mismatch


def test_srm_flags_weights_the_data_does_not_follow(archive: Archive) -> None:
    weights = {("cart-recovery", "split"): parse_weights("A=30,B=60,holdout=10")}
    result = analyse_experiments(open_engine(archive), journey="cart-recovery", weights=weights)
    assert result.splits[0].srm is not None and result.splits[0].srm.mismatch
    assert any("SAMPLE RATIO MISMATCH" in note for note in result.notes())


def test_to_table_and_to_dict_hold_every_arm(archive: Archive) -> None:
    result = analyse_experiments(open_engine(archive))
    table = result.to_table()
    assert table.num_rows == 5
    assert set(table.column("variant").to_pylist()) == {"holdout", "A", "B"}
    assert result.uplift_table().column("scope").to_pylist() == ["cart-recovery", "welcome", "programme"]
    assert result.to_dict()["programme"]["incremental_conversions"] == pytest.approx(70.0)


def test_no_split_in_the_archive_is_a_clear_error(archive: Archive) -> None:
    with pytest.raises(NoExperiment, match="no run passed a split node for journey 'nope'"):
        analyse_experiments(open_engine(archive), journey="nope")


def test_weights_must_be_name_equals_number() -> None:
    with pytest.raises(AnalyticsError, match="NAME=NUMBER"):
        parse_weights("A:50,B=50")
