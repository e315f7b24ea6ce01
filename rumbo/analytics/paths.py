"""Paths: the most common event sequences between two events, and flows for a Sankey diagram.

``event_paths``: for each customer, from their first ``start`` event to the first ``end`` event after it,
the events in between in time order (ties broken by messageId, so both engines order alike). Paths longer
than ``max_steps`` keep their first ``max_steps - 1`` events, then "…", then the end event; paths are
counted by customer and the most common are returned.

``journey_flows`` and ``event_flows`` give (source, target, count) rows: the from→to edges of journey
transitions, or the step-by-step moves of customers' event sequences (labelled "1. view", "2. cart" so the
diagram has no cycles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from rumbo.analytics.engines import QueryEngine
from rumbo.analytics.health_flags import ENTRY
from rumbo.analytics.sql import conditions, equals, literal
from rumbo.errors import AnalyticsError

EXIT: Final = "(exit)"
GAP: Final = "…"


class PathsInvalid(AnalyticsError):
    """Paths were asked for in a way they cannot be computed."""


@dataclass(frozen=True)
class Paths:
    """The most common paths between two events, with how many customers took each."""

    start: str
    end: str
    max_steps: int
    customers: int
    table: pa.Table

    def to_table(self) -> pa.Table:
        """One row per path: path, steps, customers, share of all customers who went from start to end."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        """The request and the paths, JSON-ready."""
        return {
            "analysis": "paths",
            "from": self.start,
            "to": self.end,
            "max_steps": self.max_steps,
            "customers": self.customers,
            "paths": self.table.to_pylist(),
        }


@dataclass(frozen=True)
class Flows:
    """(source, target, count) rows for a Sankey diagram."""

    origin: str
    table: pa.Table

    def to_table(self) -> pa.Table:
        """One row per source and target."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        """The flows, JSON-ready."""
        return {"analysis": "sankey", "origin": self.origin, "flows": self.table.to_pylist()}


def _sequence_ctes(start: str, end: str) -> str:
    return f"""starts AS (
  SELECT customer, min("timestamp") AS started_at FROM event
  WHERE event = {literal(start)} AND customer IS NOT NULL GROUP BY customer
),
ends AS (
  SELECT s.customer, s.started_at, min(e."timestamp") AS ended_at
  FROM starts s JOIN event e ON e.customer = s.customer
  WHERE e.event = {literal(end)} AND e."timestamp" > s.started_at
  GROUP BY s.customer, s.started_at
),
steps AS (
  SELECT e.customer, e.event,
         row_number() OVER (PARTITION BY e.customer ORDER BY e."timestamp", e.messageId) AS step
  FROM ends n JOIN event e ON e.customer = n.customer
  WHERE e."timestamp" >= n.started_at AND e."timestamp" <= n.ended_at
)"""


def paths_sql(start: str, end: str, max_steps: int) -> str:
    """Paths' SQL (DuckDB dialect): events numbered per customer, the first steps pivoted to columns."""
    pivot = ",\n  ".join(f"max(CASE WHEN step = {k} THEN event END) AS s{k}" for k in range(1, max_steps + 1))
    columns = ", ".join(f"s{k}" for k in range(1, max_steps + 1))
    return f"""WITH {_sequence_ctes(start, end)},
per_customer AS (
  SELECT customer, count(*) AS length,
  {pivot}
  FROM steps GROUP BY customer
)
SELECT {columns}, least(length, {max_steps + 1}) AS capped, count(*) AS customers
FROM per_customer GROUP BY {columns}, capped"""


def event_paths(engine: QueryEngine, start: str, end: str, *, max_steps: int = 6, top: int = 20) -> Paths:
    """The ``top`` most common paths from ``start`` to ``end`` (event names), at most ``max_steps`` long."""
    if max_steps < 2:
        raise PathsInvalid(f"--max-steps must be at least 2 (the two events), got {max_steps}")
    counted: dict[tuple[str, int], int] = {}
    for row in engine.query(paths_sql(start, end, max_steps)).to_pylist():
        events = [row[f"s{k}"] for k in range(1, max_steps + 1) if row[f"s{k}"] is not None]
        if row["capped"] > max_steps:  # too long: first steps, a gap, then the end event
            events = [*events[: max_steps - 1], GAP, end]
        key = (" → ".join(events), len(events))
        counted[key] = counted.get(key, 0) + row["customers"]
    total = sum(counted.values())
    ranked = sorted(counted.items(), key=lambda item: (-item[1], item[0][0]))[:top]
    rows = [
        {"path": path, "steps": steps, "customers": n, "share": n / total if total else None}
        for (path, steps), n in ranked
    ]
    return Paths(start, end, max_steps, total, pa.Table.from_pylist(rows, schema=PATHS_SCHEMA))


def journey_flows(engine: QueryEngine, *, journey: str | None = None, version: int | None = None) -> Flows:
    """Counts of journey transitions by from→to node; entries come from "(entry)", exits go to "(exit)"."""
    where = conditions(equals("journey", journey), equals("version", version))
    sql = f"""SELECT coalesce(from_node, {literal(ENTRY)}) AS source,
       coalesce(to_node, {literal(EXIT)}) AS target, count(*) AS count
FROM transition WHERE {where}
GROUP BY source, target"""
    table = engine.query(sql).sort_by(
        [("count", "descending"), ("source", "ascending"), ("target", "ascending")]
    )
    return Flows("journey transitions" + (f" of {journey}" if journey else ""), table)


def event_flows(
    engine: QueryEngine, *, start: str | None = None, max_steps: int = 4, top_events: int = 8
) -> Flows:
    """Step-by-step moves of customers' first ``max_steps`` events (from their first ``start`` event).

    Events outside each step's ``top_events`` most common are merged into "(other)" so the diagram stays
    readable; the counts are customers.
    """
    begin = (
        f"""firsts AS (SELECT customer, min("timestamp") AS started_at FROM event
  WHERE event = {literal(start)} AND customer IS NOT NULL GROUP BY customer)"""
        if start
        else """firsts AS (SELECT customer, min("timestamp") AS started_at FROM event
  WHERE customer IS NOT NULL GROUP BY customer)"""
    )
    sql = f"""WITH {begin},
steps AS (
  SELECT e.customer, e.event,
         row_number() OVER (PARTITION BY e.customer ORDER BY e."timestamp", e.messageId) AS step
  FROM firsts f JOIN event e ON e.customer = f.customer
  WHERE e."timestamp" >= f.started_at
),
kept AS (SELECT customer, event, step FROM steps WHERE step <= {int(max_steps)}),
ranked AS (
  SELECT step, event, row_number() OVER (PARTITION BY step ORDER BY count(*) DESC, event) AS place
  FROM kept GROUP BY step, event
),
named AS (
  SELECT k.customer, k.step,
         CASE WHEN r.place <= {int(top_events)} THEN k.event ELSE '(other)' END AS label
  FROM kept k JOIN ranked r ON r.step = k.step AND r.event = k.event
)
SELECT CAST(a.step AS VARCHAR) || '. ' || a.label AS source,
       CAST(b.step AS VARCHAR) || '. ' || b.label AS target, count(*) AS count
FROM named a JOIN named b ON b.customer = a.customer AND b.step = a.step + 1
GROUP BY source, target"""
    table = engine.query(sql).sort_by(
        [("source", "ascending"), ("count", "descending"), ("target", "ascending")]
    )
    return Flows("events" + (f" from {start}" if start else ""), table)


PATHS_SCHEMA: Final = pa.schema(
    [("path", pa.string()), ("steps", pa.int64()), ("customers", pa.int64()), ("share", pa.float64())]
)
