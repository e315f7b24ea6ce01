"""Rule-based attribution: first touch, last touch, linear, time decay and position based (U-shaped).

Each rule gives every touchpoint of a converting path a weight, the weights of one path summing to 1; a
key's credit is the sum over paths of the path's conversions (and value) times its touchpoints' weights.
The weights are computed for all touchpoints at once from each one's position and its path's length.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from rumbo.analytics.attribution.credit import Credit
from rumbo.analytics.attribution.paths import FloatArray, PathSet
from rumbo.errors import AnalyticsError

HEURISTIC_MODELS: Final = ("first", "last", "linear", "time_decay", "position")
DEFAULT_HALF_LIFE: Final = 7 * 86400.0  # seconds: a touch a week before conversion counts half as much
# Position based (U-shaped): the first and last touch each get 40%, the ones between share 20%.
POSITION_ENDS: Final = 0.4


def touch_weights(paths: PathSet, model: str, half_life: float = DEFAULT_HALF_LIFE) -> FloatArray:
    """Each touchpoint's share of its path's conversion under `model`; every non-empty path sums to 1."""
    lengths = paths.lengths
    length = np.repeat(lengths, lengths).astype(np.float64)
    pos = paths.position
    if model == "first":
        return np.asarray(pos == 0, dtype=np.float64)
    if model == "last":
        return np.asarray(pos == length - 1, dtype=np.float64)
    if model == "linear":
        return 1.0 / length
    if model == "position":
        ends = (pos == 0) | (pos == length - 1)
        middle_count = np.maximum(length - 2, 1)
        weights = np.where(ends, POSITION_ENDS, (1.0 - 2 * POSITION_ENDS) / middle_count)
        weights = np.where(length == 1, 1.0, weights)
        return np.where(length == 2, 0.5, weights)
    if model == "time_decay":
        if paths.ages is None:
            raise AnalyticsError(
                "time decay needs each touchpoint's time before the conversion, and these paths carry none "
                "(merged paths drop it) — build the paths from the archive, or pick another model"
            )
        if not half_life > 0:
            raise AnalyticsError(f"time-decay half-life {half_life!r} must be a positive number of seconds")
        raw = np.exp2(-np.maximum(paths.ages, 0.0) / half_life)
        totals = np.add.reduceat(raw, paths.offsets[:-1][lengths > 0]) if raw.size else raw
        per_path = np.zeros(paths.size)
        per_path[lengths > 0] = totals
        return raw / np.repeat(per_path, lengths)
    raise AnalyticsError(f"unknown heuristic model {model!r}; choose one of {', '.join(HEURISTIC_MODELS)}")


def heuristic_attribution(paths: PathSet, model: str, half_life: float = DEFAULT_HALF_LIFE) -> Credit:
    """Credit per key under one of the rule-based models."""
    weights = touch_weights(paths, model, half_life)
    owner = paths.path_of_touch
    k = len(paths.keys)
    conversions = np.bincount(paths.codes, weights * paths.conversions[owner], minlength=k)
    values = np.bincount(paths.codes, weights * paths.values[owner], minlength=k)
    return Credit(conversions.astype(np.float64), values.astype(np.float64))
