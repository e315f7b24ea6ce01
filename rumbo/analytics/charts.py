"""Charts where a picture reads better than a table: the journey graph with node health, funnel bars,
a Sankey of flows, lifecycle stages over time and the retention triangle.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, no global backend state), so they
can be drawn in a server or a test; ``rumbo.analytics.output.save_chart`` writes them as PNG or HTML.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import TYPE_CHECKING, Any, Final

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, PathPatch, Rectangle
from matplotlib.path import Path as CurvePath

from rumbo.analytics.health_flags import ENTRY
from rumbo.analytics.lifecycle import STAGES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from rumbo.analytics.funnels import Funnel
    from rumbo.analytics.health import NodeHealth
    from rumbo.analytics.lifecycle import Lifecycle, Retention
    from rumbo.analytics.paths import Flows

FLAGGED: Final = "#d62728"
HEALTHY: Final = "#dbe9f6"
STAGE_COLOURS: Final = dict(
    zip(STAGES, ("#bbbbbb", "#2ca02c", "#1f77b4", "#9467bd", "#ff7f0e", "#d62728"), strict=True)
)
MAX_GRAPHS: Final = 8


def depths(edges: list[tuple[str, str]], roots: list[str] | None = None) -> dict[str, int]:
    """Breadth-first distance of every node from the roots (nodes without incoming edges, or ``roots``)."""
    nodes = {n for edge in edges for n in edge}
    incoming = {t for s, t in edges if s != t}
    starts = roots or sorted(nodes - incoming) or sorted(nodes)[:1]
    children: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        children[source].append(target)
    depth = {root: 0 for root in starts if root in nodes}
    queue = deque(depth)
    while queue:
        node = queue.popleft()
        for child in children[node]:
            if child not in depth:
                depth[child] = depth[node] + 1
                queue.append(child)
    for node in sorted(nodes - set(depth)):  # only reachable through a cycle from outside the roots
        depth[node] = 0
    return depth


def node_graph_figure(health: NodeHealth) -> Figure:
    """Each journey version's graph from its from→to edges: visits, waiting and conversion per node,
    transitions per edge, flagged nodes in red."""
    per_version: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for edge in health.edges.to_pylist():
        per_version[(edge["journey"], edge["version"])].append(edge)
    versions = sorted(per_version)[:MAX_GRAPHS]
    figure = Figure(figsize=(12, 4.2 * max(1, len(versions))))
    if not versions:
        figure.text(0.5, 0.5, "no journey transitions in the archive", ha="center")
        return figure
    stats: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    flagged: set[tuple[str, int, str]] = set()
    for row in health.nodes.to_pylist():
        key = (row["journey"], row["version"], row["node"])
        stats[key][0] += row["entered"]
        stats[key][1] += row["waiting"]
        stats[key][2] += row["converted"]
        if row["flagged"]:
            flagged.add(key)
    for index, (journey, version) in enumerate(versions, start=1):
        axes = figure.add_subplot(len(versions), 1, index)
        edges = per_version[(journey, version)]
        _draw_graph(axes, journey, version, edges, stats, flagged)
    figure.tight_layout()
    return figure


def _draw_graph(
    axes: Axes,
    journey: str,
    version: int,
    edges: list[dict[str, Any]],
    stats: dict[tuple[str, int, str], list[int]],
    flagged: set[tuple[str, int, str]],
) -> None:
    pairs = [(e["from_node"], e["to_node"]) for e in edges]
    depth = depths(pairs, [ENTRY])
    columns: dict[int, list[str]] = defaultdict(list)
    for node, level in sorted(depth.items(), key=lambda item: (item[1], item[0])):
        columns[level].append(node)
    place: dict[str, tuple[float, float]] = {}
    for level, names in columns.items():
        for row, name in enumerate(names):
            place[name] = (float(level), (len(names) - 1) / 2 - row)
    for edge in edges:
        (x0, y0), (x1, y1) = place[edge["from_node"]], place[edge["to_node"]]
        backwards = depth[edge["to_node"]] <= depth[edge["from_node"]]
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
        axes.text(
            (x0 + x1) / 2,
            (y0 + y1) / 2 + 0.08,
            f"{edge['transitions']:,}",
            ha="center",
            fontsize=7,
            color="#555555",
        )
    for name, (x, y) in place.items():
        entered, waiting, converted = stats.get((journey, version, name), [0, 0, 0])
        is_flagged = (journey, version, name) in flagged
        label = (
            name
            if name == ENTRY
            else (
                f"{name}\n{entered:,} in · {waiting:,} waiting\n{converted / entered:.1%} converted"
                if entered
                else name
            )
        )
        axes.add_patch(
            FancyBboxPatch(
                (x - 0.28, y - 0.22),
                0.56,
                0.44,
                boxstyle="round,pad=0.02",
                facecolor=FLAGGED if is_flagged else HEALTHY,
                edgecolor="#333333",
            )
        )
        axes.text(x, y, label, ha="center", va="center", fontsize=7, color="white" if is_flagged else "black")
    axes.set_xlim(-0.5, max(depth.values()) + 0.5)
    height = max(len(names) for names in columns.values())
    axes.set_ylim(-height / 2 - 0.2, height / 2 + 0.2)
    axes.set_title(f"{journey} v{version} — red: converts significantly worse (fix or retire)", fontsize=10)
    axes.axis("off")


def funnel_figure(funnel: Funnel) -> Figure:
    """Horizontal bars per step, one bar per segment, labelled with customers and the share of step 1."""
    rows = funnel.table.to_pylist()
    segments = sorted({r["segment"] for r in rows})
    steps = list(funnel.steps)
    figure = Figure(figsize=(9, 1.0 + 0.5 * len(steps) * len(segments)))
    axes = figure.add_subplot()
    height = 0.8 / max(1, len(segments))
    for s_index, segment in enumerate(segments):
        mine = [r for r in rows if r["segment"] == segment]
        ys = [len(steps) - r["step"] + (len(segments) - 1 - s_index) * height for r in mine]
        bars = axes.barh(ys, [r["customers"] for r in mine], height=height * 0.9, label=segment)
        for bar, r in zip(bars, mine, strict=True):
            share = f" ({r['from_first']:.1%})" if r["from_first"] is not None else ""
            axes.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                f" {r['customers']:,}{share}",
                va="center",
                fontsize=8,
            )
    axes.set_yticks([len(steps) - i + 0.4 - height / 2 for i in range(1, len(steps) + 1)], steps)
    axes.set_xlabel("customers")
    axes.set_title(f"Funnel within {funnel.within / 86400:g} days")
    if len(segments) > 1:
        axes.legend(title=funnel.by, fontsize=8)
    figure.tight_layout()
    return figure


def sankey_figure(flows: Flows) -> Figure:
    """A Sankey diagram of (source, target, count) flows; edges that loop back are left out of the drawing."""
    rows = [(r["source"], r["target"], r["count"]) for r in flows.table.to_pylist()]
    figure = Figure(figsize=(12, 7))
    axes = figure.add_subplot()
    axes.axis("off")
    if not rows:
        axes.text(0.5, 0.5, "no flows", ha="center")
        return figure
    depth = depths([(s, t) for s, t, _ in rows], [ENTRY] if any(s == ENTRY for s, _, _ in rows) else None)
    # A node nothing leaves (such as "(exit)") goes right of everything that flows into it.
    sources = {s for s, _, _ in rows}
    for sink in {t for _, t, _ in rows} - sources:
        depth[sink] = max(depth[s] for s, t, _ in rows if t == sink) + 1
    forward = [(s, t, c) for s, t, c in rows if depth[t] > depth[s]]
    size: dict[str, int] = defaultdict(int)
    inflow: dict[str, int] = defaultdict(int)
    outflow: dict[str, int] = defaultdict(int)
    for s, t, c in forward:
        outflow[s] += c
        inflow[t] += c
    for node in depth:
        size[node] = max(inflow[node], outflow[node])
    columns: dict[int, list[str]] = defaultdict(list)
    for node in sorted(depth, key=lambda n: (-size[n], n)):
        if size[node]:
            columns[depth[node]].append(node)
    gap = 0.02
    scale = min(
        (1.0 - gap * (len(names) - 1)) / max(1, sum(size[n] for n in names)) for names in columns.values()
    )
    width = 0.02
    levels = sorted(columns)
    x_of = {level: i / max(1, len(levels) - 1) * (1 - width) for i, level in enumerate(levels)}
    top: dict[str, float] = {}
    for level, names in columns.items():
        y = 1.0
        for node in names:
            top[node] = y
            height = size[node] * scale
            axes.add_patch(Rectangle((x_of[level], y - height), width, height, color="#444444"))
            axes.text(
                x_of[level] + width * 1.5, y - height / 2, f"{node} ({size[node]:,})", va="center", fontsize=7
            )
            y -= height + gap
    out_used: dict[str, float] = defaultdict(float)
    in_used: dict[str, float] = defaultdict(float)
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
    colour_of = {node: colours[i % len(colours)] for i, node in enumerate(sorted({s for s, _, _ in forward}))}
    for s, t, c in sorted(forward, key=lambda e: (depth[e[0]], -e[2])):
        thickness = c * scale
        x0, x1 = x_of[depth[s]] + width, x_of[depth[t]]
        y0 = top[s] - out_used[s]
        y1 = top[t] - in_used[t]
        out_used[s] += thickness
        in_used[t] += thickness
        middle = (x0 + x1) / 2
        vertices = [
            (x0, y0),
            (middle, y0),
            (middle, y1),
            (x1, y1),
            (x1, y1 - thickness),
            (middle, y1 - thickness),
            (middle, y0 - thickness),
            (x0, y0 - thickness),
            (x0, y0),
        ]
        codes = [
            CurvePath.MOVETO,
            CurvePath.CURVE4,
            CurvePath.CURVE4,
            CurvePath.CURVE4,
            CurvePath.LINETO,
            CurvePath.CURVE4,
            CurvePath.CURVE4,
            CurvePath.CURVE4,
            CurvePath.CLOSEPOLY,
        ]
        axes.add_patch(
            PathPatch(CurvePath(vertices, codes), facecolor=colour_of[s], alpha=0.45, edgecolor="none")
        )
    axes.set_xlim(-0.01, 1.15)
    axes.set_ylim(min(0.0, *(top[n] - size[n] * scale for n in top)) - 0.02, 1.02)
    axes.set_title(
        f"Flows: {flows.origin}"
        + (f" ({len(rows) - len(forward)} looping edges not drawn)" if len(forward) < len(rows) else "")
    )
    return figure


def lifecycle_figure(result: Lifecycle) -> Figure:
    """Stacked bars: each period's customers split by stage, as shares."""
    rows = result.table.to_pylist()
    periods = sorted({r["period"] for r in rows})
    figure = Figure(figsize=(max(6, 0.35 * len(periods) + 3), 4.5))
    axes = figure.add_subplot()
    bottom = [0.0] * len(periods)
    for stage in STAGES:
        shares = {r["period"]: r["share"] or 0.0 for r in rows if r["stage"] == stage}
        values = [shares.get(p, 0.0) for p in periods]
        axes.bar(
            [p.isoformat() for p in periods], values, bottom=bottom, color=STAGE_COLOURS[stage], label=stage
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_ylabel("share of customers seen")
    axes.set_title(f"Lifecycle stages by {result.period}")
    axes.tick_params(axis="x", labelrotation=90, labelsize=7)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    figure.tight_layout()
    return figure


def retention_figure(result: Retention) -> Figure:
    """The retention triangle as a heat map: cohorts down, weeks since first seen across."""
    rows = result.table.to_pylist()
    cohorts = sorted({r["cohort"] for r in rows})
    weeks = max((r["weeks_since"] for r in rows), default=0) + 1
    grid = [[float("nan")] * weeks for _ in cohorts]
    for r in rows:
        grid[cohorts.index(r["cohort"])][r["weeks_since"]] = r["retention"]
    figure = Figure(figsize=(max(6, 0.4 * weeks + 3), max(3, 0.3 * len(cohorts) + 1.5)))
    axes = figure.add_subplot()
    image = axes.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axes.set_yticks(range(len(cohorts)), [c.isoformat() for c in cohorts], fontsize=7)
    axes.set_xlabel("weeks since first seen")
    axes.set_title("Weekly cohort retention")
    figure.colorbar(image, ax=axes, label="active share of cohort")
    figure.tight_layout()
    return figure
