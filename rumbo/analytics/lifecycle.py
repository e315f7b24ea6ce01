"""Lifecycle stages over time and first-seen cohort retention, from purchase and activity events.

Stages, for every customer seen so far, at the end of each period (week or month), with the thresholds as
options (``LifecycleRules``):

- **prospect** — seen, never purchased;
- **new** — first purchase within ``active`` (default 30 days) of the period's end;
- **reactivated** — a purchase within ``active`` of the period's end that came more than ``lapsed``
  (default 90 days) after the purchase before it;
- **active** — last purchase within ``active``;
- **at_risk** — last purchase between ``active`` and ``lapsed`` ago;
- **lapsed** — last purchase more than ``lapsed`` ago.

The first rule that holds wins, in that order. Retention: customers grouped by the week they were first
seen (any event), and for each week since, how many were active (any event) — the classic cohort triangle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

import pyarrow as pa

from rumbo.analytics.engines import QueryEngine
from rumbo.analytics.sql import one_of
from rumbo.errors import AnalyticsError

STAGES: Final = ("prospect", "new", "active", "reactivated", "at_risk", "lapsed")
Period = Literal["week", "month"]
DAY: Final = 86400.0
MAX_PERIODS: Final = 520


class LifecycleInvalid(AnalyticsError):
    """Lifecycle rules or periods that cannot be used."""


@dataclass(frozen=True)
class LifecycleRules:
    """Which events are purchases and how long a customer stays active before being at risk, then lapsed."""

    purchase_events: tuple[str, ...] = ("order_completed",)
    active: float = 30 * DAY
    lapsed: float = 90 * DAY

    def __post_init__(self) -> None:
        if not self.purchase_events:
            raise LifecycleInvalid("name at least one purchase event, e.g. --purchase-event order_completed")
        if not 0 < self.active < self.lapsed:
            raise LifecycleInvalid(
                f"the active window ({self.active:g}s) must be positive and shorter than the lapsed one "
                f"({self.lapsed:g}s) — e.g. --active 30d --lapsed 90d"
            )


@dataclass(frozen=True)
class Lifecycle:
    """Customers per stage at the end of each period."""

    rules: LifecycleRules
    period: Period
    table: pa.Table

    def to_table(self) -> pa.Table:
        """One row per period and stage: customers and share of the customers seen by then."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        """The rules and the rows, JSON-ready."""
        return {
            "analysis": "lifecycle",
            "period": self.period,
            "rules": {
                "purchase_events": list(self.rules.purchase_events),
                "active_seconds": self.rules.active,
                "lapsed_seconds": self.rules.lapsed,
            },
            "rows": self.table.to_pylist(),
        }


@dataclass(frozen=True)
class Retention:
    """First-seen weekly cohorts × weeks since: active customers and the share of the cohort."""

    table: pa.Table
    cohorts: dict[str, int] = field(default_factory=dict)

    def to_table(self) -> pa.Table:
        """One row per cohort week and week since first seen."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        """The rows, JSON-ready."""
        return {"analysis": "retention", "rows": self.table.to_pylist()}


def _periods(first: datetime, last: datetime, period: Period) -> list[tuple[date, date]]:
    """(start, end) of every period from the one holding ``first`` to the one holding ``last``."""
    if period == "week":
        start = first.date() - timedelta(days=first.weekday())
    else:
        start = first.date().replace(day=1)
    bounds: list[tuple[date, date]] = []
    while start <= last.date() and len(bounds) < MAX_PERIODS:
        if period == "week":
            end = start + timedelta(days=7)
        else:
            end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        bounds.append((start, end))
        start = end
    return bounds


def lifecycle_sql(rules: LifecycleRules, bounds: Sequence[tuple[date, date]]) -> str:
    """Stage counts per period (DuckDB dialect); the periods come in as a small UNION ALL table."""
    epoch = date(1970, 1, 1)
    periods = "\n  UNION ALL ".join(
        f"SELECT DATE '{start.isoformat()}' AS period, {float((end - epoch).days * DAY)} AS period_end"
        for start, end in bounds
    )
    purchases = one_of("event", rules.purchase_events)
    return f"""WITH periods AS (
  {periods}
),
seen AS (
  SELECT customer, min(epoch("timestamp")) AS first_seen FROM event
  WHERE customer IS NOT NULL GROUP BY customer
),
purchases AS (
  SELECT customer, epoch("timestamp") AS bought_at FROM event WHERE {purchases} AND customer IS NOT NULL
),
marked AS (
  SELECT a.customer, a.bought_at,
         count(*) FILTER (WHERE b.bought_at < a.bought_at) AS earlier,
         count(*) FILTER (
           WHERE b.bought_at < a.bought_at AND b.bought_at >= a.bought_at - {rules.lapsed}
         ) AS recent
  FROM purchases a JOIN purchases b ON b.customer = a.customer
  GROUP BY a.customer, a.bought_at
),
snapshot AS (
  SELECT p.period, p.period_end, s.customer,
         min(m.bought_at) FILTER (WHERE m.bought_at < p.period_end) AS first_buy,
         max(m.bought_at) FILTER (WHERE m.bought_at < p.period_end) AS last_buy,
         count(*) FILTER (WHERE m.bought_at < p.period_end AND m.bought_at >= p.period_end - {rules.active}
                          AND m.earlier > 0 AND m.recent = 0) AS reactivations
  FROM periods p CROSS JOIN seen s LEFT JOIN marked m ON m.customer = s.customer
  WHERE s.first_seen < p.period_end
  GROUP BY p.period, p.period_end, s.customer
)
SELECT period,
  CASE
    WHEN first_buy IS NULL THEN 'prospect'
    WHEN first_buy >= period_end - {rules.active} THEN 'new'
    WHEN reactivations > 0 THEN 'reactivated'
    WHEN last_buy >= period_end - {rules.active} THEN 'active'
    WHEN last_buy >= period_end - {rules.lapsed} THEN 'at_risk'
    ELSE 'lapsed'
  END AS stage,
  count(*) AS customers
FROM snapshot GROUP BY period, stage"""


def lifecycle(
    engine: QueryEngine, rules: LifecycleRules | None = None, *, period: Period = "week"
) -> Lifecycle:
    """Customers per lifecycle stage at the end of every period the events span."""
    rules = rules or LifecycleRules()
    if period not in ("week", "month"):
        raise LifecycleInvalid(f"period must be week or month, got {period!r}")
    span = engine.query('SELECT min("timestamp") AS first, max("timestamp") AS last FROM event').to_pylist()[
        0
    ]
    rows: list[dict[str, Any]] = []
    if span["first"] is not None:
        bounds = _periods(span["first"].astimezone(UTC), span["last"].astimezone(UTC), period)
        counts = engine.query(lifecycle_sql(rules, bounds)).to_pylist()
        by_period: dict[date, dict[str, int]] = {}
        for row in counts:
            by_period.setdefault(row["period"], {})[row["stage"]] = row["customers"]
        for start, _ in bounds:
            stages = by_period.get(start, {})
            total = sum(stages.values())
            for stage in STAGES:
                n = stages.get(stage, 0)
                rows.append(
                    {"period": start, "stage": stage, "customers": n, "share": n / total if total else None}
                )
    return Lifecycle(rules, period, pa.Table.from_pylist(rows, schema=LIFECYCLE_SCHEMA))


RETENTION_SQL: Final = """
WITH activity AS (
  SELECT DISTINCT customer, CAST(date_trunc('week', "timestamp") AS DATE) AS week
  FROM event WHERE customer IS NOT NULL
),
cohorts AS (SELECT customer, min(week) AS cohort FROM activity GROUP BY customer)
SELECT c.cohort, CAST(date_diff('day', c.cohort, a.week) / 7 AS BIGINT) AS weeks_since, count(*) AS customers
FROM activity a JOIN cohorts c ON c.customer = a.customer
GROUP BY c.cohort, weeks_since
"""


def retention(engine: QueryEngine) -> Retention:
    """Weekly first-seen cohorts: active customers in each week since, and the share of the cohort."""
    rows = (
        engine.query(RETENTION_SQL)
        .sort_by([("cohort", "ascending"), ("weeks_since", "ascending")])
        .to_pylist()
    )
    sizes = {r["cohort"]: r["customers"] for r in rows if r["weeks_since"] == 0}
    table = pa.Table.from_pylist(
        [{**r, "retention": r["customers"] / sizes[r["cohort"]]} for r in rows], schema=RETENTION_SCHEMA
    )
    return Retention(table, {str(k): v for k, v in sizes.items()})


LIFECYCLE_SCHEMA: Final = pa.schema(
    [("period", pa.date32()), ("stage", pa.string()), ("customers", pa.int64()), ("share", pa.float64())]
)
RETENTION_SCHEMA: Final = pa.schema(
    [
        ("cohort", pa.date32()),
        ("weeks_since", pa.int64()),
        ("customers", pa.int64()),
        ("retention", pa.float64()),
    ]
)
