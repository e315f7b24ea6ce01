"""Charts of a simulation: predicted flow through each draft's graph, conversions with intervals, and
messages per customer per week. Built on `matplotlib.figure.Figure` (no pyplot state), saved with
`rumbo.analytics.output.save_chart` as PNG or HTML."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import pyarrow as pa
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from rumbo.analytics.charts import depths
from rumbo.simulate.report import JourneyEstimate, SimulationReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes

ENTRY = "(entry)"


def simulation_figure(report: SimulationReport) -> Figure:
    drafts = [j for j in report.journeys if j.draft]
    figure = Figure(figsize=(13, 4.2 * len(drafts) + 4.5))
    grid = figure.add_gridspec(len(drafts) + 1, 2)
    for row, journey in enumerate(drafts):
        _flow(figure.add_subplot(grid[row, :]), journey)
    _conversions(figure.add_subplot(grid[len(drafts), 0]), report)
    _messages(figure.add_subplot(grid[len(drafts), 1]), report)
    figure.tight_layout()
    return figure


def _flow(axes: Axes, journey: JourneyEstimate) -> None:
    reached = {n.node: n for n in journey.nodes}
    depth = depths(journey.edges, [ENTRY])
    columns: dict[int, list[str]] = defaultdict(list)
    for node, level in sorted(depth.items(), key=lambda item: (item[1], item[0])):
        columns[level].append(node)
    place = {
        name: (float(level), (len(names) - 1) / 2 - row)
        for level, names in columns.items()
        for row, name in enumerate(names)
    }
    for source, target in journey.edges:
        (x0, y0), (x1, y1) = place[source], place[target]
        backwards = depth[target] <= depth[source]
        axes.annotate(
            "",
            xy=(x1 - 0.34, y1),
            xytext=(x0 + 0.34, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#777777",
                "connectionstyle": "arc3,rad=0.35" if backwards else "arc3,rad=0",
            },
        )
    top = max((n.reached.mean for n in journey.nodes), default=0.0) or 1.0
    for name, (x, y) in place.items():
        found = reached.get(name)
        if found is None:
            label, shade = (f"{name}\n{journey.entered.mean:,.0f} runs" if name == ENTRY else name), 0.0
        else:
            low, high = max(found.reached.low, 0), found.reached.high
            label = f"{name}\n{found.reached.mean:,.0f} [{low:,.0f}–{high:,.0f}]"
            if found.converted.mean:
                label += f"\n→ {found.converted.mean:,.0f} converted"
            shade = found.reached.mean / top
        axes.add_patch(
            FancyBboxPatch(
                (x - 0.3, y - 0.24),
                0.6,
                0.48,
                boxstyle="round,pad=0.02",
                facecolor=(1 - 0.6 * shade, 1 - 0.35 * shade, 1.0),
                edgecolor="#333333",
            )
        )
        axes.text(x, y, label, ha="center", va="center", fontsize=7)
    axes.set_xlim(-0.5, max(depth.values(), default=0) + 0.5)
    height = max((len(names) for names in columns.values()), default=1)
    axes.set_ylim(-height / 2 - 0.2, height / 2 + 0.2)
    axes.set_title(
        f"Predicted flow through {journey.journey} (runs per node, 95% interval across runs)", fontsize=10
    )
    axes.axis("off")


def _bars(axes: Axes, labels: list[str], means: list[float], lows: list[float], highs: list[float]) -> None:
    errors = [
        [m - max(lo, 0.0) for m, lo in zip(means, lows, strict=True)],
        [h - m for m, h in zip(means, highs, strict=True)],
    ]
    axes.barh(labels, means, xerr=errors, color="#6fa8dc", ecolor="#333333", capsize=3)
    axes.invert_yaxis()
    axes.tick_params(axis="y", labelsize=8)


def _conversions(axes: Axes, report: SimulationReport) -> None:
    rows = [
        (j.journey + (" (draft)" if j.draft else ""), j.rate) for j in report.journeys if j.rate is not None
    ]
    _bars(
        axes,
        [r[0] for r in rows],
        [r[1].mean for r in rows],
        [r[1].low for r in rows],
        [r[1].high for r in rows],
    )
    axes.set_title("Conversion rate of runs, with 95% intervals", fontsize=10)
    axes.xaxis.set_major_formatter(lambda value, _: f"{value:.0%}")


def _messages(axes: Axes, report: SimulationReport) -> None:
    rows = [
        (j.journey + (" (draft)" if j.draft else ""), j.messages_per_customer_week) for j in report.journeys
    ]
    rows.append(("all journeys", report.messages_per_customer_week))
    _bars(
        axes,
        [r[0] for r in rows],
        [r[1].mean for r in rows],
        [r[1].low for r in rows],
        [r[1].high for r in rows],
    )
    axes.set_title("Messages per customer per week, with 95% intervals", fontsize=10)


def simulation_table(report: SimulationReport) -> pa.Table:
    """The figures the chart draws, for the HTML page."""
    rows = []
    for j in report.journeys:
        rows.append(
            {
                "journey": j.journey,
                "draft": j.draft,
                "entered": round(j.entered.mean, 1),
                "rate": None if j.rate is None else round(j.rate.mean, 4),
                "rate_low": None if j.rate is None else round(j.rate.low, 4),
                "rate_high": None if j.rate is None else round(j.rate.high, 4),
                "messages_per_customer_week": round(j.messages_per_customer_week.mean, 4),
            }
        )
    return pa.Table.from_pylist(rows)
