"""Shapley-value attribution over coalitions of keys, computed exactly from the paths' conversion rates.

The game (after Dalessandro, Perlich, Stitelman & Provost 2012, "Causally motivated attribution"): the
worth v(S) of a coalition S of keys is the conversion rate of the customers whose path touched exactly the
keys in S (0 for a coalition no path shows). A key's Shapley value is its average marginal contribution
to v over every order in which the keys could join.

The conversions of the paths that touched exactly T are shared among T's keys in proportion to the
Shapley values of the game restricted to T, which add up to v(T); so credit always adds up to the observed
conversions, and keys a path never touched get none of it. A key whose presence *lowers* the conversion
rate gets a negative Shapley value, and may get negative credit: that is the model's honest answer.

Exact, not sampled: with n keys there are 2ⁿ coalitions. The Harsanyi dividends d(S) (the Möbius
transform of v) are computed once in n·2ⁿ steps; the Shapley value of key c in the game restricted to T
is the sum of d(S)/|S| over the S ⊆ T that contain c, which is one subset-sum (zeta) transform per key.
Both transforms are numpy passes over a 2ⁿ array, so up to `MAX_KEYS` keys take well under a second.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from rumbo.analytics.attribution.credit import Credit
from rumbo.analytics.attribution.paths import FloatArray, IntArray, PathSet
from rumbo.errors import AnalyticsError

MAX_KEYS: Final = 16


def _subset_sum(values: FloatArray, bits: int) -> FloatArray:
    """Zeta transform: out[T] = Σ_{S ⊆ T} values[S], over the last axis of length 2**bits."""
    out = values.copy()
    lead = out.shape[:-1]
    for i in range(bits):
        view = out.reshape(*lead, -1, 2, 1 << i)
        view[..., 1, :] += view[..., 0, :]
    return out


def _mobius(values: FloatArray, bits: int) -> FloatArray:
    """Möbius transform, the inverse of `_subset_sum`: the Harsanyi dividends of a game."""
    out = values.copy()
    for i in range(bits):
        view = out.reshape(-1, 2, 1 << i)
        view[:, 1, :] -= view[:, 0, :]
    return out


def coalition_masks(paths: PathSet) -> IntArray:
    """For each path, the bit mask of the keys it touched (bit i for key i)."""
    lengths = paths.lengths
    bits = np.left_shift(np.int64(1), paths.codes)
    masks = np.zeros(paths.size, dtype=np.int64)
    nonempty = lengths > 0
    if paths.codes.size:
        masks[nonempty] = np.bitwise_or.reduceat(bits, paths.offsets[:-1][nonempty])
    return masks


def shapley_attribution(paths: PathSet) -> Credit:
    """Credit per key from exact Shapley values of the coalition conversion-rate game."""
    n = len(paths.keys)
    if n > MAX_KEYS:
        raise AnalyticsError(
            f"Shapley attribution is exact over at most {MAX_KEYS} keys and these paths have {n} — "
            "attribute by a coarser key (e.g. --by channel), or use the Markov model"
        )
    if n == 0:
        return Credit.zeros(0)
    size = 1 << n
    masks = coalition_masks(paths)
    customers = np.bincount(masks, paths.conversions + paths.nulls, minlength=size)
    conversions = np.bincount(masks, paths.conversions, minlength=size)
    values = np.bincount(masks, paths.values, minlength=size)
    rate = np.divide(conversions, customers, out=np.zeros(size), where=customers > 0)

    dividends = _mobius(rate, n)
    members = (np.arange(size)[None, :] >> np.arange(n)[:, None]) & 1  # members[c, S]: is c in S
    popcount = members.sum(axis=0)
    per_member = np.where(members == 1, dividends / np.maximum(popcount, 1), 0.0)
    # restricted[c, T]: Shapley value of key c in the game restricted to the keys of T.
    restricted = _subset_sum(per_member, n)

    worth = rate  # v(T) = Σ_{S ⊆ T} d(S) = the rate itself
    share = np.divide(restricted, worth[None, :], out=np.zeros_like(restricted), where=worth[None, :] > 0)
    credit_conversions: FloatArray = (share @ conversions).astype(np.float64)
    credit_values: FloatArray = (share @ values).astype(np.float64)
    # A key's Shapley value as reported: its contribution to each customer's conversion probability in the
    # game of the keys that customer had, averaged over customers. These add up to the conversion rate of
    # the customers read; the value of the full game over all keys would rest on the few (often no)
    # customers who touched every key.
    total_customers = customers.sum()
    mean_value = (restricted @ customers) / total_customers if total_customers > 0 else np.zeros(n)
    return Credit(
        credit_conversions,
        credit_values,
        detail={"shapley_value": np.asarray(mean_value, dtype=np.float64)},
    )
