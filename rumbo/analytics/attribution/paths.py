"""Paths to conversion as flat numpy arrays: the one input every attribution model reads.

A path is the ordered list of touchpoints (each a key: a channel, campaign, journey or node) one customer
had before one conversion, or before the end of the data for a customer who did not convert. Millions of
paths are held as one flat array of touchpoint codes plus path offsets (the layout Arrow uses for lists),
so models count with numpy instead of looping in Python. `collapse` merges identical paths, adding up
their conversions and non-conversions: real journey data repeats the same few paths over and over, so a
model then works on thousands of distinct paths instead of millions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rumbo.errors import AnalyticsError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PathSet:
    """Paths as flat arrays; path i's touchpoints are `codes[offsets[i]:offsets[i + 1]]`, oldest first.

    `keys[code]` names a touchpoint code. `conversions`, `nulls` and `values` are per path: how many
    customers took this path and converted, how many took it and did not, and the conversion value.
    `ages` (optional, per touchpoint) is how many seconds before the conversion (or the path's end) each
    touchpoint happened; only time decay needs it, and `collapse` drops it.
    """

    keys: tuple[str, ...]
    codes: IntArray
    offsets: IntArray
    conversions: FloatArray
    nulls: FloatArray
    values: FloatArray
    ages: FloatArray | None = None
    unattributed_conversions: float = 0.0  # conversions with no touchpoint inside the window
    unattributed_value: float = 0.0

    def __post_init__(self) -> None:
        n = self.offsets.size - 1
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != self.codes.size:
            raise AnalyticsError("path offsets must start at 0 and end at the number of touchpoints")
        if not (self.conversions.size == self.nulls.size == self.values.size == n):
            raise AnalyticsError(f"{n} paths need {n} conversion, non-conversion and value counts each")
        if self.ages is not None and self.ages.size != self.codes.size:
            raise AnalyticsError("ages, when given, are one per touchpoint")
        if self.codes.size and (self.codes.min() < 0 or self.codes.max() >= len(self.keys)):
            raise AnalyticsError("a touchpoint code has no key")

    @property
    def size(self) -> int:
        """The number of paths."""
        return int(self.offsets.size - 1)

    @property
    def lengths(self) -> IntArray:
        """Touchpoints per path."""
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> IntArray:
        """For each touchpoint, the index of its path."""
        return np.repeat(np.arange(self.size, dtype=np.int64), self.lengths)

    @property
    def position(self) -> IntArray:
        """For each touchpoint, its 0-based position inside its path."""
        return np.arange(self.codes.size, dtype=np.int64) - np.repeat(self.offsets[:-1], self.lengths)

    def path(self, i: int) -> list[str]:
        """Path i as key names (for reading and tests, not for bulk work)."""
        return [self.keys[c] for c in self.codes[self.offsets[i] : self.offsets[i + 1]]]

    @classmethod
    def from_sequences(
        cls,
        paths: Sequence[Sequence[str]],
        conversions: npt.ArrayLike,
        nulls: npt.ArrayLike | None = None,
        values: npt.ArrayLike | None = None,
        ages: Sequence[Sequence[float]] | None = None,
    ) -> PathSet:
        """Paths given as lists of key names — convenient for small data and for tests."""
        keys = tuple(sorted({k for p in paths for k in p}))
        index = {k: i for i, k in enumerate(keys)}
        codes = np.fromiter((index[k] for p in paths for k in p), dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in paths], dtype=np.int64)]).astype(np.int64)
        n = len(paths)
        return cls(
            keys=keys,
            codes=codes,
            offsets=offsets,
            conversions=np.asarray(conversions, dtype=np.float64),
            nulls=np.zeros(n) if nulls is None else np.asarray(nulls, dtype=np.float64),
            values=np.zeros(n) if values is None else np.asarray(values, dtype=np.float64),
            ages=None if ages is None else np.fromiter((a for p in ages for a in p), dtype=np.float64),
        )

    @property
    def total_conversions(self) -> float:
        """Conversions on paths plus those no touchpoint led to."""
        return float(self.conversions.sum()) + self.unattributed_conversions

    def without_repeats(self) -> PathSet:
        """The same paths with consecutive repeats of one key merged ("web > web > email" -> "web > email").

        Ten page views in one visit are one touch of the web channel, not ten; the first touch of each run
        is kept, with its age.
        """
        if self.codes.size == 0:
            return self
        keep = np.ones(self.codes.size, dtype=bool)
        keep[1:] = self.codes[1:] != self.codes[:-1]
        keep[self.offsets[:-1][self.lengths > 0]] = True  # a path's first touch is never a repeat
        kept_per_path = np.bincount(self.path_of_touch[keep], minlength=self.size)
        offsets = np.concatenate([[0], np.cumsum(kept_per_path)]).astype(np.int64)
        return PathSet(
            keys=self.keys,
            codes=self.codes[keep],
            offsets=offsets,
            conversions=self.conversions,
            nulls=self.nulls,
            values=self.values,
            ages=None if self.ages is None else self.ages[keep],
            unattributed_conversions=self.unattributed_conversions,
            unattributed_value=self.unattributed_value,
        )

    def collapse(self) -> PathSet:
        """Identical paths merged into one, with their conversions, non-conversions and values added.

        Each path gets an integer identity and one sort of those integers finds the distinct paths. A path
        short enough is its own identity: its codes as digits in base (keys + 1), digit 0 never used, so the
        number is unique and fits in 64 bits. Longer paths (rare) are grouped per length by comparing rows.
        """
        n = self.size
        if n == 0:
            return self
        lengths = self.lengths
        base = len(self.keys) + 1
        digits = _digits_in_int64(base)
        identity = np.zeros(n, dtype=np.int64)

        short = lengths <= digits
        touch_short = np.repeat(short, lengths)
        position = self.position
        place = np.ones(digits, dtype=np.int64)  # base**d for positions 0 .. digits - 1
        for d in range(1, digits):
            place[d] = place[d - 1] * base
        touch_value = (self.codes[touch_short] + 1) * place[position[touch_short]]
        filled = short & (lengths > 0)
        if touch_value.size:
            starts = np.concatenate([[0], np.cumsum(lengths[filled])[:-1]]).astype(np.int64)
            identity[filled] = np.add.reduceat(touch_value, starts)

        # Paths too long for one integer: number their distinct rows per length, after every short identity.
        next_id = int(identity.max()) + 1
        for length in np.unique(lengths[~short]).tolist():
            group = np.flatnonzero(lengths == length)
            rows = self.codes[self.offsets[group][:, None] + np.arange(length)[None, :]]
            _, inverse = np.unique(rows, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1).astype(np.int64)
            identity[group] = next_id + inverse
            next_id += int(inverse.max()) + 1

        first, inverse = _group(identity)
        count = first.size
        kept_lengths = lengths[first]
        gather = np.repeat(self.offsets[first], kept_lengths) + (
            np.arange(int(kept_lengths.sum()), dtype=np.int64)
            - np.repeat(np.cumsum(kept_lengths) - kept_lengths, kept_lengths)
        )
        return PathSet(
            keys=self.keys,
            codes=self.codes[gather],
            offsets=np.concatenate([[0], np.cumsum(kept_lengths)]).astype(np.int64),
            conversions=np.bincount(inverse, self.conversions, minlength=count).astype(np.float64),
            nulls=np.bincount(inverse, self.nulls, minlength=count).astype(np.float64),
            values=np.bincount(inverse, self.values, minlength=count).astype(np.float64),
            unattributed_conversions=self.unattributed_conversions,
            unattributed_value=self.unattributed_value,
        )


def _group(identity: IntArray) -> tuple[IntArray, IntArray]:
    """One member of each distinct value, and each element's group — np.unique's work with an unstable,
    faster sort (which member represents a group does not matter here)."""
    order = np.argsort(identity)
    ordered = identity[order]
    new = np.empty(identity.size, dtype=bool)
    new[:1] = True
    new[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(identity.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new].astype(np.int64), inverse


def _digits_in_int64(base: int) -> int:
    """How many base-`base` digits (each up to base - 1) a non-negative int64 can hold without overflow."""
    digits, largest = 0, 0
    while largest * base + (base - 1) < 2**63:
        largest = largest * base + (base - 1)
        digits += 1
    return digits
