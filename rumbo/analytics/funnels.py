"""Ordered funnels with a window: how many customers did A, then B, then C within a week of A.

A customer enters the funnel at their first step-1 event; each next step counts when the customer does it
at or after the previous step (strictly after when it is the same event name) and no later than
``within`` seconds after their step-1 event. Per step: customers, conversion from the previous step and
from the first. ``by`` splits the funnel by the channel of the step-1 event or by one of its properties
(``properties.plan``), so channels or plans can be compared side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from rumbo.analytics.engines import QueryEngine
from rumbo.analytics.sql import literal
from rumbo.errors import AnalyticsError

ALL: Final = "(all)"


class FunnelInvalid(AnalyticsError):
    """A funnel was asked for in a way it cannot be computed."""


@dataclass(frozen=True)
class Funnel:
    """Per segment and step: customers, and conversion from the previous and from the first step."""

    steps: tuple[str, ...]
    within: float
    by: str | None
    table: pa.Table

    def to_table(self) -> pa.Table:
        """One row per segment and step."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        """The funnel's definition and rows, JSON-ready."""
        return {
            "analysis": "funnel",
            "steps": list(self.steps),
            "within_seconds": self.within,
            "by": self.by,
            "rows": self.table.to_pylist(),
        }


def segment_expression(by: str | None, alias: str = "e") -> str:
    """The SQL for a segment: ``channel`` or ``properties.<key>`` of the event; a constant without one."""
    if by is None:
        return literal(ALL)
    if by == "channel":
        return f"coalesce({alias}.channel, '(none)')"
    if by.startswith("properties.") and len(by) > len("properties."):
        key = by.removeprefix("properties.").replace('"', "")
        return f"coalesce(json_extract_string({alias}.properties, {literal('$.' + key)}), '(none)')"
    raise FunnelInvalid(f"cannot split by {by!r} — use 'channel' or 'properties.<key>', e.g. properties.plan")


def funnel_sql(steps: Sequence[str], within: float, by: str | None) -> str:
    """The funnel's SQL (DuckDB dialect): one CTE per step, each joined to the events of the previous."""
    within_us = int(within * 1_000_000)
    ctes = [
        f"""s1 AS (
  SELECT e.customer, min(e."timestamp") AS first_at, min(e."timestamp") AS reached_at,
         arg_min({segment_expression(by)}, e."timestamp") AS segment
  FROM event e WHERE e.event = {literal(steps[0])} AND e.customer IS NOT NULL
  GROUP BY e.customer
)"""
    ]
    for index in range(1, len(steps)):
        order = ">" if steps[index] == steps[index - 1] else ">="
        ctes.append(
            f"""s{index + 1} AS (
  SELECT p.customer, p.first_at, p.segment, min(e."timestamp") AS reached_at
  FROM s{index} p JOIN event e ON e.customer = p.customer
  WHERE e.event = {literal(steps[index])} AND e."timestamp" {order} p.reached_at
    AND date_diff('microsecond', p.first_at, e."timestamp") <= {within_us}
  GROUP BY p.customer, p.first_at, p.segment
)"""
        )
    counts = "\nUNION ALL\n".join(
        f"SELECT {index + 1} AS step, segment, count(*) AS customers FROM s{index + 1} GROUP BY segment"
        for index in range(len(steps))
    )
    return "WITH " + ",\n".join(ctes) + "\n" + counts


def funnel(engine: QueryEngine, steps: Sequence[str], *, within: float, by: str | None = None) -> Funnel:
    """The ordered funnel through ``steps`` (event names) within ``within`` seconds of the first step."""
    if len(steps) < 2:
        raise FunnelInvalid(f"a funnel needs at least two steps, got {list(steps)} — name them in order")
    if within <= 0:
        raise FunnelInvalid(f"the window must be positive, got {within} seconds — e.g. --within 7d")
    counts = engine.query(funnel_sql(steps, within, by)).to_pylist()
    reached: dict[str, dict[int, int]] = {}
    for row in counts:
        reached.setdefault(row["segment"], {})[row["step"]] = row["customers"]
    rows = []
    for segment in sorted(reached):
        first = reached[segment].get(1, 0)
        previous = first
        for index, name in enumerate(steps, start=1):
            customers = reached[segment].get(index, 0)
            rows.append(
                {
                    "segment": segment,
                    "step": index,
                    "event": name,
                    "customers": customers,
                    "from_previous": customers / previous if previous else None,
                    "from_first": customers / first if first else None,
                }
            )
            previous = customers
    return Funnel(tuple(steps), within, by, pa.Table.from_pylist(rows, schema=FUNNEL_SCHEMA))


FUNNEL_SCHEMA: Final = pa.schema(
    [
        ("segment", pa.string()),
        ("step", pa.int64()),
        ("event", pa.string()),
        ("customers", pa.int64()),
        ("from_previous", pa.float64()),
        ("from_first", pa.float64()),
    ]
)
