"""What every attribution model returns: credit per touchpoint key, in conversions and in value."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rumbo.analytics.attribution.paths import FloatArray


@dataclass(frozen=True)
class Credit:
    """Conversions and conversion value credited to each key (indexed like `PathSet.keys`).

    `detail` holds a model's own per-key figures that explain the credit, such as the Markov removal
    effect or the Shapley value, so a reader can see why a key got what it got.
    """

    conversions: FloatArray
    values: FloatArray
    detail: dict[str, FloatArray] = field(default_factory=dict)

    @classmethod
    def zeros(cls, keys: int) -> Credit:
        """No credit for any of `keys` keys (no converting path)."""
        return cls(np.zeros(keys), np.zeros(keys))
