"""Customer lifetime value: how many more purchases, how likely still a customer, worth how much.

BG/NBD and Pareto/NBD model purchase frequency; Gamma-Gamma models spend per purchase. Each is fitted by
maximum likelihood on a per-customer summary of frequency, recency and age.
"""

from __future__ import annotations

from rumbo.analytics.clv.bgnbd import BgNbd, fit_bgnbd
from rumbo.analytics.clv.fitting import ClvFitFailed, ClvInputInvalid, Fit
from rumbo.analytics.clv.gammagamma import GammaGamma, fit_gammagamma
from rumbo.analytics.clv.paretonbd import ParetoNbd, fit_paretonbd

__all__ = [
    "BgNbd",
    "ClvFitFailed",
    "ClvInputInvalid",
    "Fit",
    "GammaGamma",
    "ParetoNbd",
    "fit_bgnbd",
    "fit_gammagamma",
    "fit_paretonbd",
]
