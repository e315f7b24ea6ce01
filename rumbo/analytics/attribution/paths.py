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
        conversions: Sequence[float],
        nulls: Sequence[float] | None = None,
        values: Sequence[float] | None = None,
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

        Paths are grouped by length, and each length's paths form a 2-D array whose distinct rows numpy
        finds in one sort, so the work is a few vectorised passes whatever the number of paths.
        """
        lengths = self.lengths
        order = np.argsort(lengths, kind="stable")
        sorted_lengths = lengths[order]
        boundaries = np.flatnonzero(np.diff(sorted_lengths)) + 1
        groups = np.split(order, boundaries)
        out_codes: list[IntArray] = []
        out_lengths: list[IntArray] = []
        out_conv: list[FloatArray] = []
        out_null: list[FloatArray] = []
        out_value: list[FloatArray] = []
        for group in groups:
            if group.size == 0:
                continue
            length = int(lengths[group[0]])
            starts = self.offsets[group]
            if length == 0:
                rows = np.zeros((group.size, 0), dtype=np.int64)
            else:
                rows = self.codes[starts[:, None] + np.arange(length)[None, :]]
            unique, inverse = np.unique(rows, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            count = unique.shape[0]
            out_codes.append(unique.reshape(-1))
            out_lengths.append(np.full(count, length, dtype=np.int64))
            out_conv.append(np.bincount(inverse, self.conversions[group], minlength=count).astype(np.float64))
            out_null.append(np.bincount(inverse, self.nulls[group], minlength=count).astype(np.float64))
            out_value.append(np.bincount(inverse, self.values[group], minlength=count).astype(np.float64))
        if not out_codes:
            return self
        return PathSet(
            keys=self.keys,
            codes=np.concatenate(out_codes).astype(np.int64),
            offsets=np.concatenate([[0], np.cumsum(np.concatenate(out_lengths))]).astype(np.int64),
            conversions=np.concatenate(out_conv),
            nulls=np.concatenate(out_null),
            values=np.concatenate(out_value),
            unattributed_conversions=self.unattributed_conversions,
            unattributed_value=self.unattributed_value,
        )
