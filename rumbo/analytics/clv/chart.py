"""The CLV distribution as a picture: how value spreads over customers, and how concentrated it is.

Left, a histogram of expected value per customer on a logarithmic axis (values span orders of magnitude, and
on a linear axis everything piles up in the first bar). Right, the share of all expected value held by the
most valuable x% of customers — the curve a retention budget is argued from. The data table beside it gives
the same by decile. When spend is not modelled, expected purchases stand in for value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from rumbo.analytics.clv.analysis import ClvResult
from rumbo.analytics.clv.fitting import FloatArray

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _measure(result: ClvResult) -> tuple[FloatArray, str]:
    if result.expected_value is not None:
        return result.expected_value, f"expected value over {result.horizon}"
    return result.expected_purchases, f"expected purchases over {result.horizon}"


def decile_table(result: ClvResult) -> pa.Table:
    """Customers split into ten equal groups by value, most valuable first, with each group's share."""
    values, _ = _measure(result)
    ordered = np.sort(values)[::-1]
    total = float(ordered.sum())
    groups = np.array_split(ordered, 10)
    shares = [float(g.sum()) / total if total > 0 else 0.0 for g in groups]
    return pa.table(
        {
            "decile": pa.array(list(range(1, 11)), pa.int64()),
            "customers": pa.array([len(g) for g in groups], pa.int64()),
            "mean": pa.array([float(g.mean()) if len(g) else 0.0 for g in groups], pa.float64()),
            "total": pa.array([float(g.sum()) for g in groups], pa.float64()),
            "share": pa.array(shares, pa.float64()),
            "cumulative_share": pa.array(np.cumsum(shares).tolist(), pa.float64()),
        }
    )


def distribution_figure(result: ClvResult) -> Figure:
    """A two-panel figure: histogram of value (log axis) and concentration of value over customers."""
    from matplotlib.figure import Figure

    values, label = _measure(result)
    figure = Figure(figsize=(11, 4.2))
    histogram, concentration = figure.subplots(1, 2)
    positive = values[values > 0]
    if positive.size:
        # Customers long lapsed score near zero (1e-7 and below); folding the lowest 1% into the first bar
        # keeps the axis on the range where customers actually are.
        low, high = float(np.quantile(positive, 0.01)), float(positive.max())
        bins = np.geomspace(low, high * 1.0001, 40) if high > low else np.array([low * 0.9, low * 1.1])
        shown = np.clip(positive, bins[0], None)
        histogram.hist(shown, bins=bins, color="#3b6ea5", edgecolor="white", linewidth=0.4)
        histogram.set_xscale("log")
    histogram.set_xlabel(label + " (lowest 1% in the first bar)")
    histogram.set_ylabel("customers")
    histogram.set_title(f"{result.model.name}: {len(values):,} customers")

    ordered = np.sort(values)[::-1]
    total = float(ordered.sum())
    share_of_customers = np.arange(1, ordered.size + 1) / ordered.size * 100
    share_of_value = np.cumsum(ordered) / total * 100 if total > 0 else np.zeros_like(ordered)
    concentration.plot(np.r_[0, share_of_customers], np.r_[0, share_of_value], color="#c0504d")
    concentration.plot([0, 100], [0, 100], color="#999999", linestyle="--", linewidth=0.8)
    top = int(np.ceil(ordered.size * 0.2))
    held = float(share_of_value[top - 1]) if ordered.size else 0.0
    concentration.annotate(
        f"top 20% hold {held:.0f}%",
        xy=(20, held),
        xytext=(35, max(held - 25, 5)),
        arrowprops={"arrowstyle": "->", "color": "#555555"},
    )
    concentration.set_xlim(0, 100)
    concentration.set_ylim(0, 100)
    concentration.set_xlabel("most valuable customers (%)")
    concentration.set_ylabel(f"share of {label.split(' over ')[0]} (%)")
    concentration.set_title("concentration")
    figure.tight_layout()
    return figure
