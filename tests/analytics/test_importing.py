"""Importing outside files: renames, defaults, properties folding and the report of what happened."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.convert import ColumnInvalid
from rumbo.analytics.importing import ImportInvalid


def read_all(archive: Archive, kind: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = pa.concat_tables(
        [pq.read_table(p) for p in archive.files(kind)]
    ).to_pylist()
    return rows


def test_an_orders_csv_becomes_events_with_its_extra_columns_in_properties(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text(
        "customer_id,order_date,total,sku\n007,2026-11-02T10:00:00Z,19.5,A1\n008,2026-11-03 08:00:00,5,B2\n"
    )
    archive = Archive(tmp_path / "archive")
    report = archive.import_file("event", source, {"customer_id": "customer", "order_date": "timestamp"})
    assert report.rows == 2
    assert report.into_properties == ["total", "sku"]
    assert set(report.defaulted) == {"workspace", "type", "received_at", "messageId"}
    assert [p.parent.name for p in report.files] == ["day=2026-11-02", "day=2026-11-03"]
    rows = sorted(read_all(archive, "event"), key=lambda r: str(r["customer"]))
    assert [r["customer"] for r in rows] == ["007", "008"]  # ids stay text: leading zeros kept
    assert json.loads(str(rows[0]["properties"])) == {"total": 19.5, "sku": "A1"}
    assert rows[1]["timestamp"] == datetime(2026, 11, 3, 8, tzinfo=UTC)
    assert rows[0]["type"] == "track" and rows[0]["workspace"] == "default"
    assert str(rows[0]["messageId"]).startswith("import-")


def test_importing_the_same_file_twice_gives_the_same_message_ids(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text('{"userId": "u1", "event": "signup", "timestamp": "2026-11-20T12:00:00Z"}\n')
    archive = Archive(tmp_path / "archive")
    archive.import_file("event", source)
    archive.import_file("event", source)
    ids = {r["messageId"] for r in read_all(archive, "event")}
    assert len(ids) == 1
    assert read_all(archive, "event")[0]["customer"] == "u1"  # resolved from userId


def test_parquet_conversions_import_and_unknown_columns_are_reported(tmp_path: Path) -> None:
    source = tmp_path / "conv.parquet"
    at = datetime(2026, 11, 20, tzinfo=UTC)
    pq.write_table(
        pa.table({"run": ["r1"], "customer": ["c1"], "at": [at], "value": [3.5], "note": ["x"]}), source
    )
    archive = Archive(tmp_path / "archive")
    report = archive.import_file("conversion", source)
    assert report.ignored == ["note"]
    [row] = read_all(archive, "conversion")
    assert (row["run"], row["value"], row["at"], row["workspace"]) == ("r1", 3.5, at, "default")


def test_import_errors_say_what_to_do(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    source = tmp_path / "orders.csv"
    source.write_text("customer,total\nc1,3\n")
    with pytest.raises(ImportInvalid, match=r"need a 'timestamp' column.*--map order_date=timestamp"):
        archive.import_file("event", source)
    with pytest.raises(ImportInvalid, match=r"mapping names column\(s\) 'when'"):
        archive.import_file("event", source, {"when": "timestamp"})
    with pytest.raises(ImportInvalid, match="no such file"):
        archive.import_file("event", tmp_path / "missing.csv")
    nameless = tmp_path / "nameless.csv"
    nameless.write_text("timestamp,total\n2026-11-01T00:00:00Z,3\n")
    with pytest.raises(ImportInvalid, match="need a customer, userId or anonymousId"):
        archive.import_file("event", nameless)
    bad_time = tmp_path / "bad.csv"
    bad_time.write_text("customer,timestamp\nc1,yesterday\n")
    with pytest.raises(
        ColumnInvalid, match=r"column 'timestamp', row 0: 'yesterday' is not an ISO 8601 time"
    ):
        archive.import_file("event", bad_time)
    assert archive.files("event") == []
