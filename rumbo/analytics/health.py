"""Journey and node health: per journey version, node and variant — entered, waiting, left, converted.

Definitions (a *visit* is one entry of a run into a node; in a journey without loops, visits are runs):

- ``entered``: visits; ``waiting``: visits not yet left — the run is in the node now.
- ``moved_on`` / ``exited``: visits that left to another node / out of the journey (``exits`` by cause).
- ``converted``: visits after which the run has a conversion record (a conversion is only recorded inside
  the journey's goal window, so this is "converted within the window"); ``conversion_rate`` = converted /
  entered.
- ``median_seconds``: median time from entering the node to leaving it, over visits that left.
- ``variant``: the split arm on the transition that entered the node (null before a split). A split node
  itself is entered without an arm and left with one; its leaving transitions are counted under the arm
  it was entered with, so that entered = waiting + moved_on + exited holds on every row.

Why several queries: counting moves needs no per-run work (a grouping over a handful of low-cardinality
columns); conversions need a join only for runs that converted (the small side). The time in node is
``at - since`` on each transition that left a node, ``since`` being when the run entered it, which the
engine records on every move: one more grouping. Transitions archived before ``since`` was recorded (or
imported without it) still need every visit paired with the transition that left it, so a journey version
with any of those is timed the old way: in a graph without a cycle a run cannot visit a node twice, so a
plain join on (run, node) pairs them; where the graph has a cycle the visits are numbered and matched n-th
entry to n-th exit, which costs two window sorts. ``timing=False`` skips the time in node altogether.
Flags come from ``rumbo.analytics.health_flags``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa

from rumbo.analytics.engines import QueryEngine
from rumbo.analytics.health_flags import ENTRY, Flag, NodeRates, flag_nodes
from rumbo.analytics.sql import conditions, equals, literal
from rumbo.records import TRANSITION_CAUSES

MOVES_SQL: Final = """
SELECT journey, version, from_node, to_node, cause, variant, count(*) AS moves, count(since) AS timed
FROM transition WHERE {where}
GROUP BY journey, version, from_node, to_node, cause, variant
"""

# The conversions side is small (one row per converted run), so the join builds on it and only probes
# the transitions.
CONVERTED_SQL: Final = """
WITH conversions AS (
  SELECT run, min("at") AS converted_at FROM conversion WHERE {where} GROUP BY run
)
SELECT t.journey, t.version, t.from_node, t.to_node, t.variant, count(*) AS converted
FROM transition t JOIN conversions c ON c.run = t.run
WHERE {where_t} AND t.to_node IS NOT NULL AND c.converted_at >= t."at"
GROUP BY t.journey, t.version, t.from_node, t.to_node, t.variant
"""

# For journey versions whose every move out of a node says since when the run was in it: one grouping by the
# leaving move's own arm. A split's leaving moves are counted under the arm it was entered with (see _Tally),
# so their groups are pooled afterwards (`_pooled`); the shortest and longest stay exact without a re-read.
TIME_IN_NODE_SINCE_SQL: Final = """
SELECT journey, version, node, variant, median(us) / 1e6 AS median_seconds,
       min(us) / 1e6 AS shortest, max(us) / 1e6 AS longest
FROM (
  SELECT journey, version, from_node AS node, variant, epoch_us("at") - epoch_us(since) AS us
  FROM transition WHERE {where} AND from_node IS NOT NULL
)
GROUP BY journey, version, node, variant
"""

# The same median over several (node, arm) groups of one node, for the rare split whose leaving moves did
# not all take the same time.
TIME_IN_NODE_POOLED_SQL: Final = """
SELECT journey, version, from_node AS node, median(epoch_us("at") - epoch_us(since)) / 1e6 AS median_seconds
FROM transition WHERE {where} AND from_node IS NOT NULL
GROUP BY journey, version, from_node
"""

# For journey versions without cycles: each run enters and leaves a node at most once.
TIME_IN_NODE_ACYCLIC_SQL: Final = """
SELECT e.journey, e.version, e.node, e.variant, median((l.left_us - e.entered_us) / 1e6) AS median_seconds
FROM (
  SELECT journey, version, run, to_node AS node, variant, epoch_us("at") AS entered_us
  FROM transition WHERE {where} AND to_node IS NOT NULL
) e
JOIN (
  SELECT run, from_node AS node, epoch_us("at") AS left_us
  FROM transition WHERE {where} AND from_node IS NOT NULL
) l ON l.run = e.run AND l.node = e.node
GROUP BY e.journey, e.version, e.node, e.variant
"""

TIME_IN_NODE_SQL: Final = """
WITH moves AS (
  SELECT journey, version, run, from_node, to_node, "at" AS moved_at, variant
  FROM transition WHERE {where}
),
entries AS (
  SELECT journey, version, run, to_node AS node, variant, moved_at AS entered_at,
         row_number() OVER (PARTITION BY run, to_node ORDER BY moved_at) AS visit
  FROM moves WHERE to_node IS NOT NULL
),
leaves AS (
  SELECT run, from_node AS node, moved_at AS left_at,
         row_number() OVER (PARTITION BY run, from_node ORDER BY moved_at) AS visit
  FROM moves WHERE from_node IS NOT NULL
)
SELECT e.journey, e.version, e.node, e.variant,
       median((epoch_us(l.left_at) - epoch_us(e.entered_at)) / 1e6) AS median_seconds
FROM entries e JOIN leaves l ON l.run = e.run AND l.node = e.node AND l.visit = e.visit
GROUP BY e.journey, e.version, e.node, e.variant
"""

SUPPRESSION_SQL: Final = """
WITH held AS (
  SELECT journey, version, run, node, reason FROM suppression WHERE {where}
),
arms AS (
  SELECT run, to_node AS node, max(variant) AS variant
  FROM transition
  WHERE {where} AND run IN (SELECT run FROM held)
  GROUP BY run, to_node
)
SELECT h.journey, h.version, h.node, a.variant, h.reason, count(*) AS suppressed
FROM held h LEFT JOIN arms a ON a.run = h.run AND a.node = h.node
GROUP BY h.journey, h.version, h.node, a.variant, h.reason
"""


@dataclass(frozen=True)
class NodeHealth:
    """The node health of the journeys asked for: one row per journey version, node and variant."""

    nodes: pa.Table
    edges: pa.Table
    suppressions: pa.Table
    flags: list[Flag] = field(default_factory=list)
    alpha: float = 0.05
    min_runs: int = 100

    def to_table(self) -> pa.Table:
        """One row per journey, version, node and variant, with the flag for its owner."""
        return self.nodes

    def flags_table(self) -> pa.Table:
        """Every comparison made, flagged or not, with its evidence."""
        return pa.Table.from_pylist([f.to_dict() for f in self.flags], schema=Flag.schema())

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: nodes, edges (the journey graph with counts), suppressions, tests."""
        return {
            "analysis": "nodes",
            "alpha": self.alpha,
            "min_runs": self.min_runs,
            "nodes": self.nodes.to_pylist(),
            "edges": self.edges.to_pylist(),
            "suppressions": self.suppressions.to_pylist(),
            "tests": [f.to_dict() for f in self.flags],
        }


def node_health(
    engine: QueryEngine,
    *,
    journey: str | None = None,
    version: int | None = None,
    alpha: float = 0.05,
    min_runs: int = 100,
    timing: bool = True,
) -> NodeHealth:
    """Node health for every journey version in the archive, or the one journey (and version) named.

    ``min_runs`` is the fewest visits a node (and what it is compared with) needs before it can be flagged;
    ``timing=False`` skips the median time in node, the one part that pairs every visit.
    """
    where = conditions(equals("journey", journey), equals("version", version))
    where_t = conditions(equals("t.journey", journey), equals("t.version", version))
    moves = engine.query(MOVES_SQL.format(where=where)).to_pylist()
    converted = engine.query(CONVERTED_SQL.format(where=where, where_t=where_t)).to_pylist()
    tally = _Tally(moves, converted)
    times = _times_in_node(engine, where, moves, tally) if timing else []
    suppressions = engine.query(SUPPRESSION_SQL.format(where=where)).sort_by(
        [("journey", "ascending"), ("version", "ascending"), ("node", "ascending"), ("reason", "ascending")]
    )
    flags = flag_nodes(tally.node_rates(), tally.edge_rates(), alpha=alpha, min_runs=min_runs)
    nodes = tally.nodes_table(times, suppressions, flags)
    return NodeHealth(nodes, tally.edges_table(), suppressions, flags, alpha, min_runs)


def _times_in_node(
    engine: QueryEngine, where: str, moves: list[dict[str, Any]], tally: _Tally
) -> list[dict[str, Any]]:
    graphs: dict[tuple[str, int], set[tuple[str, str]]] = defaultdict(set)
    untimed: set[tuple[str, int]] = set()
    for m in moves:
        key = (m["journey"], m["version"])
        edges = graphs.setdefault(key, set())
        if m["from_node"] is not None and m["to_node"] is not None:
            edges.add((m["from_node"], m["to_node"]))
        if m["from_node"] is not None and m["timed"] < m["moves"]:
            untimed.add(key)
    timed = sorted(set(graphs) - untimed)
    looping = sorted(key for key in untimed if has_cycle(graphs[key]))
    straight = sorted(untimed - set(looping))
    times: list[dict[str, Any]] = []
    if timed:
        groups = engine.query(TIME_IN_NODE_SINCE_SQL.format(where=conditions(where, _versions(timed))))
        times += _pooled(engine, where, groups.to_pylist(), tally.armless)
    for versions, sql in ((straight, TIME_IN_NODE_ACYCLIC_SQL), (looping, TIME_IN_NODE_SQL)):
        if versions:
            times += engine.query(sql.format(where=conditions(where, _versions(versions)))).to_pylist()
    return times


def _versions(versions: list[tuple[str, int]]) -> str:
    return " OR ".join(f"(journey = {literal(j)} AND version = {v})" for j, v in versions)


def _pooled(
    engine: QueryEngine, where: str, groups: list[dict[str, Any]], armless: set[NodeKey]
) -> list[dict[str, Any]]:
    """Per node and arm medians, with the groups of the leaving arms of a split pooled under the arm it was
    entered with. A split is left at the instant it is entered, so its groups all hold one value and pool
    to it; only groups that do not are read again, together."""
    pools: dict[NodeKey, list[dict[str, Any]]] = defaultdict(list)
    for g in groups:
        key = (g["journey"], g["version"], g["node"], g["variant"])
        pools[(*key[:3], None) if key in armless else key].append(g)
    out, mixed = [], []
    for (journey, version, node, variant), pool in pools.items():
        values = {x for g in pool for x in (g["shortest"], g["longest"])}
        if len(pool) == 1 or len(values) == 1:
            median = pool[0]["median_seconds"] if len(pool) == 1 else values.pop()
            out.append(
                {
                    "journey": journey,
                    "version": version,
                    "node": node,
                    "variant": variant,
                    "median_seconds": median,
                }
            )
        else:
            mixed += [(journey, version, node, g["variant"]) for g in pool]
    if mixed:
        chosen = " OR ".join(
            f"(journey = {literal(j)} AND version = {v} AND from_node = {literal(n)} AND "
            + ("variant IS NULL" if a is None else f"variant = {literal(a)}")
            + ")"
            for j, v, n, a in mixed
        )
        pooled = engine.query(TIME_IN_NODE_POOLED_SQL.format(where=conditions(where, chosen))).to_pylist()
        out += [{**row, "variant": None} for row in pooled]
    return out


def has_cycle(edges: set[tuple[str, str]]) -> bool:
    """Whether the directed graph of ``edges`` has a cycle (a self-loop counts)."""
    children: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        children[source].append(target)
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in list(children):
        if root in state:
            continue
        stack = [(root, iter(children[root]))]
        state[root] = 1
        while stack:
            node, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                return True
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(children[child])))
    return False


NodeKey = tuple[str, int, str, str | None]


class _Tally:
    """Per node and variant counts, built from the grouped moves and conversions."""

    def __init__(self, moves: list[dict[str, Any]], converted: list[dict[str, Any]]) -> None:
        self.counts: dict[NodeKey, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.edges: dict[tuple[str, int, str, str], list[int]] = defaultdict(lambda: [0, 0])
        # Leaving moves whose arm the node was not entered with (a split's), filed under no arm.
        self.armless: set[NodeKey] = set()
        arms: dict[tuple[str, int, str], set[str | None]] = defaultdict(set)
        for m in moves:
            if m["to_node"] is not None:
                arms[(m["journey"], m["version"], m["to_node"])].add(m["variant"])
        for m in moves:
            journey, version, count = m["journey"], m["version"], m["moves"]
            if m["to_node"] is not None:
                self.counts[(journey, version, m["to_node"], m["variant"])]["entered"] += count
                self.edges[(journey, version, m["from_node"] or ENTRY, m["to_node"])][0] += count
            if m["from_node"] is not None:
                # Counted under the arm the node was entered with: a split is entered before the arm exists.
                entered_with = arms[(journey, version, m["from_node"])]
                variant = m["variant"] if m["variant"] in entered_with or not entered_with else None
                if variant != m["variant"]:
                    self.armless.add((journey, version, m["from_node"], m["variant"]))
                node = self.counts[(journey, version, m["from_node"], variant)]
                if m["to_node"] is None:
                    node["exited"] += count
                    node[f"exit_{m['cause']}"] += count
                else:
                    node["moved_on"] += count
        for c in converted:
            self.counts[(c["journey"], c["version"], c["to_node"], c["variant"])]["converted"] += c[
                "converted"
            ]
            self.edges[(c["journey"], c["version"], c["from_node"] or ENTRY, c["to_node"])][1] += c[
                "converted"
            ]

    def node_rates(self) -> list[NodeRates]:
        pooled: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0])
        for (journey, version, node, _), counts in self.counts.items():
            pooled[(journey, version, node)][0] += counts["entered"]
            pooled[(journey, version, node)][1] += counts["converted"]
        return [NodeRates(j, v, n, entered, conv) for (j, v, n), (entered, conv) in pooled.items()]

    def edge_rates(self) -> list[tuple[str, int, str, str, int, int]]:
        return [(j, v, p, n, entered, conv) for (j, v, p, n), (entered, conv) in sorted(self.edges.items())]

    def edges_table(self) -> pa.Table:
        rows = [
            {"journey": j, "version": v, "from_node": p, "to_node": n, "transitions": t, "converted": c}
            for (j, v, p, n), (t, c) in sorted(self.edges.items())
        ]
        return pa.Table.from_pylist(rows, schema=EDGES_SCHEMA)

    def nodes_table(self, times: list[dict[str, Any]], suppressions: pa.Table, flags: list[Flag]) -> pa.Table:
        medians = {(t["journey"], t["version"], t["node"], t["variant"]): t["median_seconds"] for t in times}
        held: dict[NodeKey, dict[str, int]] = defaultdict(dict)
        for s in suppressions.to_pylist():
            held[(s["journey"], s["version"], s["node"], s["variant"])][s["reason"]] = s["suppressed"]
        flagged = {(f.journey, f.version, f.node) for f in flags if f.flagged}
        rows = []
        for key in sorted(self.counts, key=lambda k: (k[0], k[1], k[2], k[3] or "")):
            counts = self.counts[key]
            entered, left = counts["entered"], counts["moved_on"] + counts["exited"]
            exits = ", ".join(f"{c} {counts[f'exit_{c}']}" for c in TRANSITION_CAUSES if counts[f"exit_{c}"])
            rows.append(
                {
                    "journey": key[0],
                    "version": key[1],
                    "node": key[2],
                    "variant": key[3],
                    "entered": entered,
                    "waiting": entered - left,
                    "moved_on": counts["moved_on"],
                    "exited": counts["exited"],
                    "converted": counts["converted"],
                    "conversion_rate": counts["converted"] / entered if entered else None,
                    "median_seconds": medians.get(key),
                    "exits": exits,
                    "suppressed": ", ".join(f"{r} {n}" for r, n in sorted(held.get(key, {}).items())),
                    "flagged": "fix or retire" if key[:3] in flagged else "",
                }
            )
        return pa.Table.from_pylist(rows, schema=NODES_SCHEMA)


EDGES_SCHEMA: Final = pa.schema(
    [
        ("journey", pa.string()),
        ("version", pa.int64()),
        ("from_node", pa.string()),
        ("to_node", pa.string()),
        ("transitions", pa.int64()),
        ("converted", pa.int64()),
    ]
)

NODES_SCHEMA: Final = pa.schema(
    [
        ("journey", pa.string()),
        ("version", pa.int64()),
        ("node", pa.string()),
        ("variant", pa.string()),
        ("entered", pa.int64()),
        ("waiting", pa.int64()),
        ("moved_on", pa.int64()),
        ("exited", pa.int64()),
        ("converted", pa.int64()),
        ("conversion_rate", pa.float64()),
        ("median_seconds", pa.float64()),
        ("exits", pa.string()),
        ("suppressed", pa.string()),
        ("flagged", pa.string()),
    ]
)
