"""The purchase summary (frequency, recency, T, monetary) from orders files and from the archive.

The CDNOW transactions, summarised over the 39-week calibration period, must give the published summary
(tests/analytics/data/cdnow_customers_summary_with_transactions.csv) — from a file and from the archive on
both engines, which therefore agree with each other. Small hand-made cases pin down each rule.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.clv.summary import (
    OrdersInvalid,
    PurchaseSummary,
    summarise_archive,
    summarise_orders,
    summarise_orders_file,
    summary_sql,
)
from rumbo.analytics.engines import ENGINES, open_engine

DATA = Path(__file__).parent / "data"
CALIBRATION_END = date(1997, 9, 30)


def _cdnow_transactions() -> list[tuple[str, date, float]]:
    rows = []
    with (DATA / "CDNOW_sample.txt").open() as handle:
        for line in handle:
            _, sample_id, day, _, value = line.split()
            rows.append((sample_id, date(int(day[:4]), int(day[4:6]), int(day[6:])), float(value)))
    return rows


@pytest.fixture(scope="module")
def published() -> dict[str, dict[str, float]]:
    with (DATA / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        return {
            f"{int(row['ID']):04d}": {k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)
        }


def _assert_matches_published(summary: PurchaseSummary, published: dict[str, dict[str, float]]) -> None:
    assert len(summary) == 2357
    assert summary.observation_end == CALIBRATION_END
    assert summary.unit == "1w"
    expected = [published[c] for c in summary.customers]
    # The published file rounds to two decimals.
    np.testing.assert_array_equal(summary.frequency, [row["x"] for row in expected])
    np.testing.assert_allclose(summary.recency, [row["t_x"] for row in expected], atol=0.005)
    np.testing.assert_allclose(summary.T, [row["T"] for row in expected], atol=0.005)
    np.testing.assert_allclose(summary.monetary, [row["zbar"] for row in expected], atol=0.005)


def test_cdnow_orders_file_gives_the_published_summary(
    tmp_path: Path, published: dict[str, dict[str, float]]
) -> None:
    path = tmp_path / "orders.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "order_date", "amount"])
        writer.writerows((c, d.isoformat(), v) for c, d, v in _cdnow_transactions())
    summary = summarise_orders_file(
        path,
        mapping={"id": "customer", "order_date": "timestamp", "amount": "value"},
        observation_end=CALIBRATION_END,
    )
    _assert_matches_published(summary, published)


@pytest.fixture(scope="module")
def cdnow_archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    archive = Archive(tmp_path_factory.mktemp("cdnow-archive"))
    events = [
        {
            "workspace": "cdnow",
            "customer": customer,
            "messageId": f"order-{index}",
            "type": "track",
            "event": "Order Completed",
            # Late in the day in UTC: a purchase belongs to its UTC calendar day whatever the hour.
            "timestamp": datetime(day.year, day.month, day.day, 23, 30, tzinfo=UTC),
            "properties": {"revenue": value},
        }
        for index, (customer, day, value) in enumerate(_cdnow_transactions())
    ]
    # Noise the summary must ignore: another event name, a page view, another workspace.
    events.append({**events[0], "messageId": "x1", "event": "Product Viewed"})
    events.append({**events[0], "messageId": "x2", "type": "page", "event": None})
    events.append({**events[0], "messageId": "x3", "workspace": "other", "customer": "9999"})
    archive.append("event", events)
    return archive


@pytest.fixture(scope="module")
def archive_summaries(cdnow_archive: Archive) -> dict[str, PurchaseSummary]:
    return {
        engine: summarise_archive(
            open_engine(cdnow_archive, engine), observation_end=CALIBRATION_END, workspace="cdnow"
        )
        for engine in ENGINES
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_cdnow_archive_gives_the_published_summary_on_each_engine(
    engine: str, archive_summaries: dict[str, PurchaseSummary], published: dict[str, dict[str, float]]
) -> None:
    _assert_matches_published(archive_summaries[engine], published)


def test_both_engines_give_the_same_summary(archive_summaries: dict[str, PurchaseSummary]) -> None:
    duckdb, clickhouse = (archive_summaries[engine] for engine in ("duckdb", "clickhouse"))
    assert duckdb.customers == clickhouse.customers
    assert duckdb.observation_end == clickhouse.observation_end
    # Counts and whole days are identical; sums of money agree to rounding (engines add in their own order).
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(getattr(duckdb, column), getattr(clickhouse, column))
    np.testing.assert_allclose(duckdb.monetary, clickhouse.monetary, rtol=1e-12)


def _orders(rows: list[tuple[str, str, float | None]]) -> pa.Table:
    return pa.table(
        {
            "customer": [r[0] for r in rows],
            "timestamp": [r[1] for r in rows],
            "value": pa.array([r[2] for r in rows], pa.float64()),
        }
    )


def test_hand_made_orders_follow_each_rule() -> None:
    orders = _orders(
        [
            # a: first day 1 Jan; two orders on 8 Jan are one purchase worth 30; last purchase 15 Jan.
            ("a", "2026-01-01T10:00:00Z", 100.0),
            ("a", "2026-01-08T09:00:00Z", 10.0),
            ("a", "2026-01-08T18:00:00+00:00", 20.0),
            ("a", "2026-01-15T00:00:00Z", 60.0),
            # b: a single purchase; its value is not a repeat purchase, so monetary is 0.
            ("b", "2026-01-20T12:00:00Z", 50.0),
            # c: a purchase after the observation end is ignored.
            ("c", "2026-01-03T12:00:00Z", 5.0),
            ("c", "2026-02-10T12:00:00Z", 5.0),
            # d: 23:30 at UTC-5 is 04:30 UTC the next day, 2 Jan.
            ("d", "2026-01-01T23:30:00-05:00", None),
        ]
    )
    summary = summarise_orders(orders, unit="1d", observation_end=date(2026, 1, 29))
    assert summary.customers == ("a", "b", "c", "d")
    np.testing.assert_array_equal(summary.frequency, [2, 0, 0, 0])
    np.testing.assert_array_equal(summary.recency, [14, 0, 0, 0])
    np.testing.assert_array_equal(summary.T, [28, 9, 26, 27])
    np.testing.assert_array_equal(summary.monetary, [45.0, 0.0, 0.0, 0.0])  # (30 + 60) / 2


def test_observation_end_defaults_to_the_last_purchase_day_and_units_scale() -> None:
    orders = _orders([("a", "2026-01-01T10:00:00Z", 1.0), ("b", "2026-01-15T10:00:00Z", 1.0)])
    summary = summarise_orders(orders, unit="1w")
    assert summary.observation_end == date(2026, 1, 15)
    np.testing.assert_allclose(summary.T, [2.0, 0.0])


def test_parquet_orders_with_epoch_seconds(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    jan1 = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    pq.write_table(
        pa.table({"customer": ["a", "a"], "timestamp": [jan1, jan1 + 3 * 86400], "value": [1.0, 7.0]}), path
    )
    summary = summarise_orders_file(path, unit="1d")
    np.testing.assert_array_equal(summary.frequency, [1])
    np.testing.assert_array_equal(summary.recency, [3])
    np.testing.assert_array_equal(summary.monetary, [7.0])


def test_value_properties_first_present_wins(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    base = {"workspace": "w", "customer": "a", "type": "track", "event": "order_completed"}
    archive.append(
        "event",
        [
            {
                **base,
                "messageId": "1",
                "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
                "properties": {"total": 9},
            },
            {
                **base,
                "messageId": "2",
                "timestamp": datetime(2026, 1, 2, tzinfo=UTC),
                "properties": {"total": 5},
            },
            {
                **base,
                "messageId": "3",
                "timestamp": datetime(2026, 1, 3, tzinfo=UTC),
                "properties": {"revenue": 10, "total": 99},
            },
        ],
    )
    for engine in ENGINES:
        summary = summarise_archive(open_engine(archive, engine), unit="1d")
        np.testing.assert_array_equal(summary.frequency, [2])
        np.testing.assert_array_equal(summary.monetary, [7.5])  # (5 + 10) / 2


def test_missing_columns_and_empty_data_are_explained(tmp_path: Path) -> None:
    with pytest.raises(OrdersInvalid, match="orders need the column"):
        summarise_orders(pa.table({"who": ["a"], "timestamp": ["2026-01-01"]}))
    path = tmp_path / "orders.csv"
    path.write_text("who,when\na,2026-01-01\n")
    with pytest.raises(OrdersInvalid, match="does not have"):
        summarise_orders_file(path, mapping={"customer_id": "customer"})
    with pytest.raises(OrdersInvalid, match="no purchases found in the archive"):
        summarise_archive(open_engine(Archive(tmp_path / "empty")))


def test_property_names_cannot_inject_sql() -> None:
    with pytest.raises(OrdersInvalid, match="plain names"):
        summary_sql(None, ["Order Completed"], ["revenue') OR 1=1 --"])
    # Event names are quoted as literals, quotes doubled.
    assert "IN ('Bob''s order')" in summary_sql(None, ["Bob's order"])
