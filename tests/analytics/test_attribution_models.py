"""Attribution models against small examples solved by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rumbo.analytics.attribution.heuristic import heuristic_attribution, touch_weights
from rumbo.analytics.attribution.markov import fit_chain, markov_attribution, removal_effects
from rumbo.analytics.attribution.paths import PathSet
from rumbo.analytics.attribution.shapley import shapley_attribution
from rumbo.errors import AnalyticsError


def _credit(paths: PathSet, values: np.ndarray) -> dict[str, float]:
    return {k: float(v) for k, v in zip(paths.keys, values, strict=True)}


# --- heuristics ---------------------------------------------------------------------------------------

FOUR = PathSet.from_sequences(
    [["paid", "email", "web", "email"], ["web"]],
    conversions=[1, 1],
    values=[100.0, 10.0],
    ages=[[3 * 86400, 2 * 86400, 86400, 0], [0]],
)


def test_first_and_last_touch() -> None:
    assert _credit(FOUR, heuristic_attribution(FOUR, "first").conversions) == {
        "email": 0,
        "paid": 1,
        "web": 1,
    }
    assert _credit(FOUR, heuristic_attribution(FOUR, "last").conversions) == {"email": 1, "paid": 0, "web": 1}


def test_linear_splits_each_conversion_evenly_including_repeats() -> None:
    # Path 1: four touches at 1/4 each, email twice -> email 0.5, paid 0.25, web 0.25; path 2: web 1.
    credit = heuristic_attribution(FOUR, "linear")
    assert _credit(FOUR, credit.conversions) == {"email": 0.5, "paid": 0.25, "web": 1.25}
    assert _credit(FOUR, credit.values) == {"email": 50.0, "paid": 25.0, "web": 35.0}


def test_position_based_gives_forty_percent_to_each_end() -> None:
    # Path 1: paid 0.4, email (middle) 0.1, web (middle) 0.1, email (last) 0.4.
    credit = heuristic_attribution(FOUR, "position")
    assert _credit(FOUR, credit.conversions) == pytest.approx({"email": 0.5, "paid": 0.4, "web": 1.1})
    two = PathSet.from_sequences([["a", "b"]], conversions=[1])
    assert list(touch_weights(two, "position")) == [0.5, 0.5]


def test_time_decay_halves_the_weight_per_half_life() -> None:
    # Ages 3, 2, 1, 0 days with a one-day half-life: raw weights 1/8, 1/4, 1/2, 1 (sum 15/8),
    # so paid 1/15, email (1/4 + 1)/(15/8) = 10/15, web (1/2)/(15/8) = 4/15.
    credit = heuristic_attribution(FOUR, "time_decay", half_life=86400)
    assert _credit(FOUR, credit.conversions) == pytest.approx(
        {"email": 10 / 15, "paid": 1 / 15, "web": 4 / 15 + 1}
    )


def test_time_decay_refuses_paths_without_times() -> None:
    with pytest.raises(AnalyticsError, match="time decay"):
        heuristic_attribution(PathSet.from_sequences([["a"]], [1]), "time_decay")


# --- Markov -------------------------------------------------------------------------------------------


def test_markov_order_one_on_a_chain_solved_by_hand() -> None:
    # Paths: A>B converts once; A fails once; B twice, converting once.
    # start: A 1/2, B 1/2. A: B 1/2, null 1/2. B: conversion 2/3, null 1/3.
    # P(B) = 2/3, P(A) = 1/2 · 2/3 = 1/3, P = 1/2 · 1/3 + 1/2 · 2/3 = 1/2.
    # Without A: 1/2 · 2/3 = 1/3, removal effect 1 - (1/3)/(1/2) = 1/3. Without B: 0, removal effect 1.
    # Two conversions shared 1/3 : 1 -> A 0.5, B 1.5.
    paths = PathSet.from_sequences([["A", "B"], ["A"], ["B"]], conversions=[1, 0, 1], nulls=[0, 1, 1])
    chain = fit_chain(paths.collapse(), order=1)
    probability, effects = removal_effects(chain, 2)
    assert probability == pytest.approx(0.5)
    assert list(effects) == pytest.approx([1 / 3, 1.0])
    credit = markov_attribution(paths)
    assert _credit(paths, credit.conversions) == pytest.approx({"A": 0.5, "B": 1.5})


def test_markov_solves_a_chain_with_a_cycle() -> None:
    # Paths: A>B>A converts; B fails. start: A 1/2, B 1/2; A: B 1/2, conversion 1/2; B: A 1/2, null 1/2.
    # P(A) = 1/2 + 1/2 P(B), P(B) = 1/2 P(A) -> P(A) = 2/3, P(B) = 1/3, P = 1/2.
    # Without A: 0 (effect 1). Without B: P(A) = 1/2, P = 1/4 (effect 1/2). Credit A 2/3, B 1/3.
    paths = PathSet.from_sequences([["A", "B", "A"], ["B"]], conversions=[1, 0], nulls=[0, 1], values=[30, 0])
    credit = markov_attribution(paths)
    assert list(credit.detail["removal_effect"]) == pytest.approx([1.0, 0.5])
    assert _credit(paths, credit.conversions) == pytest.approx({"A": 2 / 3, "B": 1 / 3})
    assert _credit(paths, credit.values) == pytest.approx({"A": 20.0, "B": 10.0})


def test_markov_order_two_tells_what_came_before() -> None:
    # A>B converts, C>B does not. Order 1 merges both B's: B converts half the time, so removing A or C
    # each halves conversion (effects 1/2, 1, 1/2 -> credit 0.25, 0.5, 0.25). Order 2 keeps (A,B) and
    # (C,B) apart: removing C changes nothing (effects 1, 1, 0 -> credit 0.5, 0.5, 0).
    paths = PathSet.from_sequences([["A", "B"], ["C", "B"]], conversions=[1, 0], nulls=[0, 1])
    first = markov_attribution(paths, order=1)
    second = markov_attribution(paths, order=2)
    assert _credit(paths, first.conversions) == pytest.approx({"A": 0.25, "B": 0.5, "C": 0.25})
    assert _credit(paths, second.conversions) == pytest.approx({"A": 0.5, "B": 0.5, "C": 0.0})


def test_markov_order_three_on_the_example_of_order_two() -> None:
    paths = PathSet.from_sequences([["A", "B"], ["C", "B"]], conversions=[1, 0], nulls=[0, 1])
    assert list(markov_attribution(paths, order=3).conversions) == pytest.approx([0.5, 0.5, 0.0])


def test_markov_refuses_order_four() -> None:
    with pytest.raises(AnalyticsError, match="order"):
        markov_attribution(PathSet.from_sequences([["a"]], [1]), order=4)


def test_markov_credit_adds_up_and_repeating_every_path_changes_nothing_but_scale() -> None:
    # 12 keys at order 2 give more than 100 states; credit must still add up to the conversions, and
    # splitting the same customers into duplicate paths must not change anything.
    rng = np.random.default_rng(3)
    keys = [f"k{i}" for i in range(12)]
    seqs = [[keys[j] for j in rng.integers(0, 12, size=rng.integers(1, 6))] for _ in range(3000)]
    conv = rng.integers(0, 2, size=3000)
    paths = PathSet.from_sequences(seqs, conversions=conv, nulls=1 - conv)
    doubled = PathSet.from_sequences(
        seqs + seqs, conversions=np.concatenate([conv, conv]), nulls=np.concatenate([1 - conv, 1 - conv])
    )
    credit = markov_attribution(paths, order=2)
    assert credit.conversions.sum() == pytest.approx(conv.sum())
    assert list(markov_attribution(doubled, order=2).conversions) == pytest.approx(
        list(2 * credit.conversions)
    )


# --- Shapley ------------------------------------------------------------------------------------------


def test_shapley_on_two_channels_solved_by_hand() -> None:
    # Exactly {A}: 100 customers, 10 convert (rate 0.1); {B}: 100, 20 (0.2); {A, B}: 100, 40 (0.4).
    # Full game: φ_A = ½(0.1 - 0) + ½(0.4 - 0.2) = 0.15, φ_B = ½(0.2) + ½(0.4 - 0.1) = 0.25.
    # {A}'s 10 conversions go to A, {B}'s 20 to B, {A, B}'s 40 split 0.15 : 0.25 -> A 15, B 25.
    paths = PathSet.from_sequences(
        [["A"], ["B"], ["A", "B"], ["B", "A"]], conversions=[10, 20, 25, 15], nulls=[90, 80, 25, 35]
    )
    credit = shapley_attribution(paths)
    assert _credit(paths, credit.conversions) == pytest.approx({"A": 25.0, "B": 45.0})
    # Reported Shapley value: each customer's own game (the keys they touched), averaged over the 300:
    # A (100·0.1 + 100·0 + 100·0.15) / 300 = 25/300, B (100·0 + 100·0.2 + 100·0.25) / 300 = 45/300;
    # together the conversion rate of these customers, 70/300.
    assert list(credit.detail["shapley_value"]) == pytest.approx([25 / 300, 45 / 300])


def test_shapley_on_three_channels_solved_by_hand() -> None:
    # Rates: {a} 0.1, {b} 0.1, {c} 0, {a,b} 0.3, {a,c} 0.2, {b,c} 0.1, {a,b,c} 0.6 (100 customers each).
    # In the game over all three keys:
    # φ_a = 1/3(0.1) + 1/6(0.3 - 0.1) + 1/6(0.2 - 0) + 1/3(0.6 - 0.1) = 0.2666…
    # φ_b = 1/3(0.1) + 1/6(0.3 - 0.1) + 1/6(0.1 - 0) + 1/3(0.6 - 0.2) = 0.2166…
    # φ_c = 1/3(0)   + 1/6(0.2 - 0.1) + 1/6(0.1 - 0.1) + 1/3(0.6 - 0.3) = 0.1166…  (sum 0.6)
    sets = [["a"], ["b"], ["c"], ["a", "b"], ["a", "c"], ["b", "c"], ["a", "b", "c"]]
    conv = [10, 10, 0, 30, 20, 10, 60]
    paths = PathSet.from_sequences(sets, conversions=conv, nulls=[100 - c for c in conv])
    credit = shapley_attribution(paths)
    # {a,b,c}'s 60 conversions split 0.2667 : 0.2167 : 0.1167 of 0.6 -> 26.67, 21.67, 11.67.
    # {a,b} (rate 0.3): restricted φ_a = ½(0.1) + ½(0.3 - 0.1) = 0.15 = φ_b -> 15 each.
    # {a,c} (0.2): φ_a = ½(0.1) + ½(0.2) = 0.15, φ_c = ½(0) + ½(0.1) = 0.05 -> a 15, c 5.
    # {b,c} (0.1): φ_b = ½(0.1) + ½(0.1) = 0.1, φ_c = ½(0) + ½(0) = 0 -> b 10, c 0.
    expected = {"a": 10 + 15 + 15 + 80 / 3, "b": 10 + 15 + 10 + 65 / 3, "c": 5 + 35 / 3}
    assert _credit(paths, credit.conversions) == pytest.approx(expected)
    assert credit.conversions.sum() == pytest.approx(sum(conv))
    # Averaged over the 700 customers, each in the game of the keys they touched.
    assert list(credit.detail["shapley_value"]) == pytest.approx([expected[k] / 700 for k in "abc"])


def test_shapley_refuses_too_many_keys() -> None:
    paths = PathSet.from_sequences([[f"k{i}" for i in range(17)]], conversions=[1])
    with pytest.raises(AnalyticsError, match="at most 16"):
        shapley_attribution(paths)


# --- paths --------------------------------------------------------------------------------------------


def test_collapse_merges_identical_paths_and_keeps_totals() -> None:
    paths = PathSet.from_sequences(
        [["a", "b"], ["b"], ["a", "b"], ["b", "a"], ["b"]],
        conversions=[1, 0, 1, 0, 1],
        nulls=[0, 1, 0, 1, 0],
        values=[5, 0, 7, 0, 1],
    )
    merged = paths.collapse()
    seen = {
        tuple(merged.path(i)): (merged.conversions[i], merged.nulls[i], merged.values[i])
        for i in range(merged.size)
    }
    assert seen == {("a", "b"): (2, 0, 12), ("b",): (1, 1, 1), ("b", "a"): (0, 1, 0)}


def test_without_repeats_merges_runs_of_one_key() -> None:
    paths = PathSet.from_sequences([["web", "web", "email", "web"], ["sms", "sms"]], conversions=[1, 0])
    merged = paths.without_repeats()
    assert [merged.path(0), merged.path(1)] == [["web", "email", "web"], ["sms"]]


def test_markov_with_many_keys_merges_paths_first_and_gets_the_same_chain() -> None:
    # 160 keys at order 3 allow 161³ > 4 million states: paths are merged before the states are sorted.
    # The removal effects must equal those of the chain counted from the unmerged paths.
    rng = np.random.default_rng(11)
    keys = [f"k{i:03d}" for i in range(160)]
    seqs = [[keys[j] for j in rng.integers(0, 8, size=rng.integers(1, 5))] for _ in range(400)]
    seqs += [[keys[j] for j in rng.integers(0, 160, size=2)] for _ in range(100)]
    conv = rng.integers(0, 2, size=len(seqs))
    paths = PathSet.from_sequences(
        seqs + seqs, np.concatenate([conv, conv]), np.concatenate([1 - conv, 1 - conv])
    )
    credit = markov_attribution(paths, order=3)
    _, unmerged = removal_effects(fit_chain(paths, order=3), len(paths.keys))
    assert list(credit.detail["removal_effect"]) == pytest.approx(list(unmerged))
    assert credit.conversions.sum() == pytest.approx(2 * conv.sum())
