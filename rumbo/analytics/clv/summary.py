"""The per-customer summary the lifetime-value models read: frequency, recency, age T and average spend.

A purchase is a calendar day (UTC) with at least one order: several orders on one day count once, their
values summed — that is how the published CDNOW summaries were made, and it stops a split basket from
looking like a loyal customer. For each customer, over the days up to the observation end:

- frequency: purchase days after the first (repeat purchases);
- recency: time from the first purchase day to the last;
- T: time from the first purchase day to the observation end;
- monetary: the average value of the repeat purchase days (0 without repeats), which Gamma-Gamma reads.

Times are measured in whole days and reported in the chosen unit (weeks by default). The SQL is written
once, in DuckDB's dialect, over a relation ``orders(customer, ordered_at, value)``; from the archive,
``orders`` is drawn from purchase events and the query runs on any engine (DuckDB or ClickHouse); from an
orders file it runs on DuckDB in process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from rumbo.analytics.clv.fitting import FloatArray
from rumbo.analytics.convert import to_timestamp_column
from rumbo.analytics.engines import QueryEngine, normalise
from rumbo.analytics.importing import read_external
from rumbo.durations import format_duration, parse_duration
from rumbo.errors import AnalyticsError

DAY: Final = 86400.0
PURCHASE_EVENTS: Final = ("Order Completed", "order_completed")
"""Segment's e-commerce spec names the event "Order Completed"; rumbo's examples write order_completed."""
VALUE_PROPERTIES: Final = ("revenue", "total", "value")
"""Where a purchase event carries its value, first present wins: Segment's revenue, then total, then value."""
ORDER_COLUMNS: Final = ("customer", "timestamp", "value")

_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Per customer and UTC day, then per customer; DATE_DIFF counts whole days. Written once, DuckDB dialect.
_SUMMARY_SQL: Final = """
purchase_days AS (
    SELECT customer, CAST(ordered_at AS DATE) AS day, SUM(COALESCE(value, 0)) AS value
    FROM orders
    WHERE customer IS NOT NULL AND ordered_at IS NOT NULL{until}
    GROUP BY customer, CAST(ordered_at AS DATE)
),
bounds AS (
    SELECT {end_day} AS end_day{bounds_from}
),
firsts AS (
    SELECT customer, MIN(day) AS first_day FROM purchase_days GROUP BY customer
)
SELECT
    p.customer AS customer,
    COUNT(*) - 1 AS frequency,
    DATE_DIFF('day', f.first_day, MAX(p.day)) AS recency_days,
    DATE_DIFF('day', f.first_day, b.end_day) AS age_days,
    SUM(CASE WHEN p.day > f.first_day THEN p.value ELSE 0 END) AS repeat_value,
    DATE_DIFF('day', DATE '1970-01-01', b.end_day) AS end_epoch_day
FROM purchase_days AS p
JOIN firsts AS f ON p.customer = f.customer
CROSS JOIN bounds AS b
GROUP BY p.customer, f.first_day, b.end_day
ORDER BY p.customer
"""


class OrdersInvalid(AnalyticsError):
    """An orders file, or the purchase events asked for, cannot be summarised."""


@dataclass(frozen=True)
class PurchaseSummary:
    """Frequency, recency, T and monetary value per customer, times in units of ``unit_days`` days."""

    customers: tuple[str, ...]
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary: FloatArray
    unit_days: float
    observation_end: date | None

    @property
    def unit(self) -> str:
        """The time unit as a duration string, e.g. '1w'."""
        return format_duration(self.unit_days * DAY)

    def __len__(self) -> int:
        return len(self.customers)

    def to_table(self) -> pa.Table:
        """One row per customer: customer, frequency, recency, T, monetary."""
        return pa.table(
            {
                "customer": pa.array(self.customers, pa.string()),
                "frequency": pa.array(self.frequency.astype(np.int64)),
                "recency": pa.array(self.recency),
                "T": pa.array(self.T),
                "monetary": pa.array(self.monetary),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "unit": self.unit,
            "observation_end": self.observation_end.isoformat() if self.observation_end else None,
            "customers": self.to_table().to_pylist(),
        }


def summarise_archive(
    engine: QueryEngine,
    *,
    unit: str = "1w",
    observation_end: date | None = None,
    purchase_events: Sequence[str] = PURCHASE_EVENTS,
    value_properties: Sequence[str] = VALUE_PROPERTIES,
    workspace: str | None = None,
) -> PurchaseSummary:
    """The summary from the archive's purchase events (track events named one of ``purchase_events``).

    A purchase's value is the first of ``value_properties`` present in its properties, as a JSON number.
    ``observation_end`` defaults to the last purchase day in the data.
    """
    return _from_query_result(
        engine.query(summary_sql(observation_end, purchase_events, value_properties, workspace)),
        unit,
        "the archive's purchase events (" + ", ".join(purchase_events) + ")",
    )


def summarise_orders(
    orders: pa.Table, *, unit: str = "1w", observation_end: date | None = None
) -> PurchaseSummary:
    """The summary from an Arrow table of orders with columns customer, timestamp and value.

    Timestamps may be Arrow times (naive ones are UTC), dates, epoch seconds or ISO 8601 text; value may be
    missing (then every order is worth 0 and only frequency and recency mean anything).
    """
    import duckdb

    missing = [name for name in ORDER_COLUMNS[:2] if name not in orders.column_names]
    if missing:
        raise OrdersInvalid(
            f"orders need the column(s) {', '.join(missing)}; they have {', '.join(orders.column_names)} — "
            "map yours to customer, timestamp and value"
        )
    values = (
        pc.cast(orders.column("value"), pa.float64())
        if "value" in orders.column_names
        else pa.nulls(orders.num_rows, pa.float64())
    )
    relation = pa.table(
        {
            "customer": pc.cast(orders.column("customer"), pa.string()),
            "ordered_at": to_timestamp_column(
                orders.column("timestamp").combine_chunks(), where="orders: timestamp"
            ),
            "value": values,
        }
    )
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.register("orders", relation)
        result = connection.sql(summary_sql(observation_end)).to_arrow_table()
    finally:
        connection.close()
    return _from_query_result(normalise(result), unit, "the orders")


def summarise_orders_file(
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    unit: str = "1w",
    observation_end: date | None = None,
) -> PurchaseSummary:
    """The summary from a CSV, Parquet or JSON-lines file of orders (customer, timestamp, value).

    ``mapping`` renames the file's columns, e.g. ``{"order_date": "timestamp", "total": "value"}``.
    """
    source = Path(path)
    rename = dict(mapping or {})
    raw = _read_orders(
        source, customer_column=next((k for k, v in rename.items() if v == "customer"), "customer")
    )
    unknown = [name for name in rename if name not in raw.column_names]
    if unknown:
        raise OrdersInvalid(
            f"{source}: the mapping names column(s) {', '.join(unknown)} that the file does not have; its "
            f"columns are {', '.join(raw.column_names)}"
        )
    table = raw.rename_columns([rename.get(name, name) for name in raw.column_names])
    try:
        return summarise_orders(table, unit=unit, observation_end=observation_end)
    except OrdersInvalid as exc:
        raise OrdersInvalid(f"{source}: {exc}") from exc


def _read_orders(source: Path, customer_column: str) -> pa.Table:
    """The orders file; CSV customer ids are read as text, so an id such as 0042 keeps its zeros."""
    if source.suffix.lower() not in (".csv", ".tsv", ".txt") or not source.is_file():
        return read_external(source)
    delimiter = "\t" if source.suffix.lower() == ".tsv" else ","
    options = pacsv.ConvertOptions(column_types={customer_column: pa.string()}, strings_can_be_null=True)
    try:
        return pacsv.read_csv(
            source, parse_options=pacsv.ParseOptions(delimiter=delimiter), convert_options=options
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise OrdersInvalid(f"{source}: cannot be read as CSV: {exc}") from exc


def summary_sql(
    observation_end: date | None,
    purchase_events: Sequence[str] | None = None,
    value_properties: Sequence[str] = VALUE_PROPERTIES,
    workspace: str | None = None,
) -> str:
    """The summary query in DuckDB's dialect.

    With ``purchase_events`` it reads the archive's ``event`` table; without, a relation named ``orders``
    with columns customer, ordered_at (timestamp) and value that the caller provides.
    """
    end = f"DATE '{observation_end.isoformat()}'" if observation_end else None
    body = _SUMMARY_SQL.format(
        until=f" AND CAST(ordered_at AS DATE) <= {end}" if end else "",
        end_day=end or "MAX(day)",
        bounds_from="" if end else " FROM purchase_days",
    )
    if purchase_events is None:
        return "WITH " + body.strip()
    orders = _orders_from_events(purchase_events, value_properties, workspace)
    return f"WITH orders AS (\n{orders}\n),\n{body.strip()}"


def _orders_from_events(
    purchase_events: Sequence[str], value_properties: Sequence[str], workspace: str | None
) -> str:
    if not purchase_events:
        raise OrdersInvalid("name at least one purchase event, e.g. 'Order Completed'")
    bad = [name for name in value_properties if not _PROPERTY_NAME.match(name)]
    if bad or not value_properties:
        raise OrdersInvalid(
            "value properties must be plain names such as 'revenue'; got "
            + (", ".join(map(repr, bad)) or "none")
        )
    values = [f"CAST(json_extract(properties, '$.{name}') AS DOUBLE)" for name in value_properties]
    value = values[0] if len(values) == 1 else f"COALESCE({', '.join(values)})"
    names = ", ".join(_literal(name) for name in purchase_events)
    where = f"type = 'track' AND event IN ({names})"
    if workspace is not None:
        where += f" AND workspace = {_literal(workspace)}"
    return (
        f'    SELECT customer, "timestamp" AS ordered_at, {value} AS value\n    FROM event\n    WHERE {where}'
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _from_query_result(table: pa.Table, unit: str, source: str) -> PurchaseSummary:
    unit_days = parse_duration(unit) / DAY
    if unit_days <= 0:
        raise OrdersInvalid(f"the time unit must be positive, got {unit!r} — use e.g. '1d' or '1w'")
    if table.num_rows == 0:
        raise OrdersInvalid(f"no purchases found in {source} — nothing to summarise")
    columns = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    frequency = columns["frequency"].astype(np.float64)
    repeat_value = np.nan_to_num(columns["repeat_value"].astype(np.float64))
    monetary = np.divide(repeat_value, frequency, out=np.zeros_like(repeat_value), where=frequency > 0)
    end_day = int(columns["end_epoch_day"][0])
    return PurchaseSummary(
        customers=tuple(str(c) for c in table.column("customer").to_pylist()),
        frequency=frequency,
        recency=columns["recency_days"].astype(np.float64) / unit_days,
        T=columns["age_days"].astype(np.float64) / unit_days,
        monetary=monetary,
        unit_days=unit_days,
        observation_end=date.fromordinal(date(1970, 1, 1).toordinal() + end_day),
    )
