"""Data-driven attribution with an absorbing Markov chain of order 1 to 3, removal effects solved exactly.

The chain (Anderl, Becker, von Wangenheim & Schumann 2016): every path is a walk from a start state
through touchpoint states to one of two absorbing states, conversion or null (no conversion). In a chain of
order k a state is the last k touchpoints (fewer at the start of a path), so "email after paid" can differ
from "email after web". Transition probabilities are the observed transition counts, normalised per state.

A key's *removal effect* is the share of conversions that would be lost if the key disappeared: every state
that contains it becomes the null state. The probability of absorption in conversion from the start is the
solution of a linear system, (I - Q) x = r, with Q the transitions among transient states and r the
transitions into conversion; rumbo solves it (sparse LU) once for the full chain and once per key, instead
of simulating random walks as some tools do, so the figures are exact and identical on every run. Credit:
total conversions × removal effect / sum of removal effects (and the same for value).

Counting is vectorised and linear in the number of touchpoints: each touchpoint's state is an integer
built from its last k codes, states are numbered through a presence table, and transitions are counted
with weighted `numpy.bincount`s. Merging identical paths first (`PathSet.collapse`) costs a sort, so it is
done only when naming the states needs a sort anyway (more than `_TABLE_LIMIT` possible states): then the
sort runs over the distinct paths' touchpoints instead of all of them. Either way the chain is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from rumbo.analytics.attribution.credit import Credit
from rumbo.analytics.attribution.paths import FloatArray, IntArray, PathSet
from rumbo.errors import AnalyticsError

MAX_ORDER: Final = 3
# Up to this many cells, counting into a dense table beats sorting (4M cells is 32 MB of float64).
_TABLE_LIMIT: Final = 4_000_000


@dataclass(frozen=True)
class MarkovChain:
    """The fitted chain: transient states (0 is the start), their touchpoint keys, and the two vectors.

    `q` holds transition probabilities among transient states, `r` the probability of going from each
    transient state straight to conversion. `contains[s, key]` says whether state s remembers that key.
    """

    order: int
    q: sp.csr_matrix
    r: FloatArray
    contains: npt.NDArray[np.bool_]

    def conversion_probability(self, removed: int | None = None) -> float:
        """Probability that a walk from the start converts, with the states holding `removed` dropped."""
        n = self.r.size
        keep = np.ones(n, dtype=np.float64)
        if removed is not None:
            keep[self.contains[:, removed]] = 0.0
        # A removed state leads nowhere but null: zero its row of Q and its entry of r.
        # Sparse LU (SuperLU) at every size: it runs on one thread, where a dense solve calls a threaded BLAS
        # that, on a busy machine, spends far longer waiting for its threads than solving.
        r = keep * self.r
        q = sp.diags(keep) @ self.q
        x = np.atleast_1d(spla.spsolve((sp.identity(n, format="csc") - q).tocsc(), r))
        return float(x[0])


def _state_codes(paths: PathSet, order: int) -> IntArray:
    """An integer per touchpoint naming its state: its last `order` key codes in base (keys + 1)."""
    base = len(paths.keys) + 1
    if order == 1:
        return paths.codes + 1
    pos = paths.position
    state = np.zeros(paths.codes.size, dtype=np.int64)
    for m in range(order):
        digit = np.zeros(paths.codes.size, dtype=np.int64)
        has = pos >= m
        idx = np.flatnonzero(has)
        digit[idx] = paths.codes[idx - m] + 1
        state += digit * base**m
    return state


def _compact(raw: IntArray, bound: int) -> tuple[IntArray, IntArray]:
    """The distinct raw state codes, and each touch's state index (1-based; 0 is the start state).

    When the codes are bounded by a small number, a presence table replaces the sort np.unique would do.
    """
    if bound <= _TABLE_LIMIT:
        present = np.bincount(raw, minlength=bound) > 0
        lookup = np.cumsum(present)  # 1-based index of each present code
        return np.flatnonzero(present).astype(np.int64), lookup[raw].astype(np.int64)
    distinct, compact = np.unique(raw, return_inverse=True)
    return distinct.astype(np.int64), compact.reshape(-1).astype(np.int64) + 1


Transitions = tuple[IntArray, IntArray, FloatArray]  # from states, to states, weights


def _count_transitions(groups: list[Transitions], rows: int, columns: int) -> sp.csr_matrix:
    """Weighted transition counts as a sparse matrix; bincounts into a dense table when that is small."""
    if rows * columns <= _TABLE_LIMIT:
        flat = np.zeros(rows * columns)
        for from_states, to_states, weights in groups:
            flat += np.bincount(from_states * columns + to_states, weights, minlength=rows * columns)
        return sp.csr_matrix(flat.reshape(rows, columns))
    from_all = np.concatenate([np.broadcast_to(g[0], g[2].shape) for g in groups])
    to_all = np.concatenate([np.broadcast_to(g[1], g[2].shape) for g in groups])
    weights_all = np.concatenate([g[2] for g in groups])
    return sp.csr_matrix((weights_all, (from_all, to_all)), shape=(rows, columns))


def fit_chain(paths: PathSet, order: int = 1) -> MarkovChain:
    """Count the transitions of `paths` into a chain of the given order.

    Every count is a weighted bincount over all touchpoints at once; a path's weight is its number of
    customers (conversions + non-conversions), so merged and unmerged paths give the same chain.
    """
    if not 1 <= order <= MAX_ORDER:
        raise AnalyticsError(f"Markov order {order!r} is not supported — choose 1, 2 or 3")
    if (len(paths.keys) + 1) ** order >= 2**62:
        raise AnalyticsError(f"{len(paths.keys)} keys are too many for a chain of order {order}")
    weight = paths.conversions + paths.nulls
    lengths = paths.lengths
    distinct, state = _compact(_state_codes(paths, order), (len(paths.keys) + 1) ** order)
    n = distinct.size + 1
    conv_state, null_state = n, n + 1

    filled = lengths > 0
    starts = paths.offsets[:-1][filled]
    ends = paths.offsets[1:][filled] - 1
    # Each touch goes to the next one, except across the boundary from one path's end to the next start.
    pair_weight = np.repeat(weight, lengths)[:-1]
    pair_weight[ends[ends < pair_weight.size]] = 0.0
    end_states = state[ends]
    groups: list[Transitions] = [
        (state[:-1], state[1:], pair_weight),
        (np.zeros(starts.size, dtype=np.int64), state[starts], weight[filled]),
        (end_states, np.full(ends.size, conv_state, dtype=np.int64), paths.conversions[filled]),
        (end_states, np.full(ends.size, null_state, dtype=np.int64), paths.nulls[filled]),
    ]
    counts = _count_transitions(groups, n, n + 2)
    totals = np.asarray(counts.sum(axis=1)).reshape(-1)
    inverse_totals = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    probabilities = sp.csr_matrix(sp.diags(inverse_totals) @ counts)
    q = sp.csr_matrix(probabilities[:, :n])
    r = np.asarray(probabilities[:, conv_state].toarray()).reshape(-1)

    base = len(paths.keys) + 1
    contains = np.zeros((n, len(paths.keys)), dtype=bool)
    rest = distinct.copy()
    for _ in range(order):
        rest, digit = np.divmod(rest, base)
        has = digit > 0
        contains[np.flatnonzero(has) + 1, digit[has] - 1] = True
    return MarkovChain(order=order, q=q, r=r, contains=contains)


def removal_effects(chain: MarkovChain, keys: int) -> tuple[float, FloatArray]:
    """The full chain's conversion probability and, per key, 1 - P(conversion without it) / P(conversion)."""
    base = chain.conversion_probability()
    effects = np.zeros(keys)
    if base <= 0:
        return base, effects
    for key in range(keys):
        if chain.contains[:, key].any():  # a key in no state cannot change anything
            effects[key] = 1.0 - chain.conversion_probability(removed=key) / base
    return base, np.clip(effects, 0.0, 1.0)


def markov_attribution(paths: PathSet, order: int = 1) -> Credit:
    """Credit per key from the removal effects of a Markov chain of `order` fitted to `paths`."""
    counted = paths.collapse() if (len(paths.keys) + 1) ** order > _TABLE_LIMIT else paths
    chain = fit_chain(counted, order)
    k = len(paths.keys)
    probability, effects = removal_effects(chain, k)
    total = effects.sum()
    share = effects / total if total > 0 else np.zeros(k)
    conversions = share * float(counted.conversions.sum())
    values = share * float(counted.values.sum())
    return Credit(
        conversions,
        values,
        detail={"removal_effect": effects, "chain_conversion_probability": np.full(k, probability)},
    )
