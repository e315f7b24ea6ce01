"""Customer lifetime value: how many more purchases, how likely still a customer, worth how much.

BG/NBD and Pareto/NBD model purchase frequency; Gamma-Gamma models spend per purchase. Each is fitted by
maximum likelihood on a per-customer summary of frequency, recency and age (``summary``), drawn from the
archive's purchase events or from a file of orders. ``analyze_clv`` scores every customer; ``write_traits``
turns the scores into identify events for ingestion.
"""

from __future__ import annotations

from rumbo.analytics.clv.analysis import ClvResult, analyze_clv
from rumbo.analytics.clv.bgnbd import BgNbd, fit_bgnbd
from rumbo.analytics.clv.fitting import ClvFitFailed, ClvInputInvalid, Fit
from rumbo.analytics.clv.gammagamma import GammaGamma, fit_gammagamma
from rumbo.analytics.clv.paretonbd import ParetoNbd, fit_paretonbd
from rumbo.analytics.clv.summary import (
    PurchaseSummary,
    summarise_archive,
    summarise_orders,
    summarise_orders_file,
)
from rumbo.analytics.clv.traits import TRAITS, write_traits

__all__ = [
    "TRAITS",
    "BgNbd",
    "ClvFitFailed",
    "ClvInputInvalid",
    "ClvResult",
    "Fit",
    "GammaGamma",
    "ParetoNbd",
    "PurchaseSummary",
    "analyze_clv",
    "fit_bgnbd",
    "fit_gammagamma",
    "fit_paretonbd",
    "summarise_archive",
    "summarise_orders",
    "summarise_orders_file",
    "write_traits",
]
