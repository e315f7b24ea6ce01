"""The archive: day partitions, the full schema in every file, checked types, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rumbo.analytics.archive import Archive, ArchiveError, default_archive_path, schema_of
from rumbo.analytics.convert import ColumnInvalid
from rumbo.records import FIELDS, Transition, record_to_dict

NOV_23 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC).timestamp()
DAY = 86_400.0


def transition(run: str, at: float, to_node: str | None = "start") -> dict[str, object]:
    return record_to_dict(Transition("w", "c1", "welcome", 1, run, None, to_node, "entered", None, at, None))


def test_append_writes_one_file_per_day_under_the_documented_layout(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    written = archive.append(
        "transition",
        [transition("r1", NOV_23), transition("r2", NOV_23 + DAY), transition("r3", NOV_23 + 60)],
    )
    days = sorted(p.parent.name for p in written)
    assert days == ["day=2026-11-23", "day=2026-11-24"]
    for path in written:
        assert path.parent.parent == tmp_path / "transition"
        assert path.name.startswith("part-") and path.suffix == ".parquet"
    assert archive.files("transition") == sorted(written)
    counts = {p.parent.name: pq.read_table(p).num_rows for p in written}
    assert counts == {"day=2026-11-23": 2, "day=2026-11-24": 1}


def test_files_carry_the_full_schema_with_utc_microsecond_times(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    [path] = archive.append("conversion", [{"customer": "c1", "run": "r1", "at": NOV_23}])
    table = pq.read_table(path)
    assert table.schema.equals(schema_of("conversion"))
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    row = table.to_pylist()[0]
    assert row["at"] == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert row["value"] is None and row["goal"] is None
    assert list(table.column_names) == list(FIELDS["conversion"])


def test_times_may_be_epoch_seconds_datetimes_or_iso_text(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    naive = datetime(2026, 11, 23, 9, 30)  # read as UTC
    rows = [
        {"customer": "a", "run": "r", "at": NOV_23 + 0.25},
        {"customer": "b", "run": "r", "at": naive},
        {"customer": "c", "run": "r", "at": "2026-11-23T10:30:00+01:00"},
    ]
    [path] = archive.append("conversion", rows)
    times = {r["customer"]: r["at"] for r in pq.read_table(path).to_pylist()}
    base = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert times == {"a": base.replace(microsecond=250_000), "b": base, "c": base}


def test_json_columns_are_stored_as_json_text(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    [path] = archive.append(
        "event", [{"customer": "c1", "timestamp": NOV_23, "event": "order", "properties": {"total": 12.5}}]
    )
    assert pq.read_table(path).column("properties").to_pylist() == ['{"total":12.5}']


def test_an_arrow_table_is_conformed_to_the_kind(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    table = pa.table({"run": ["r1"], "version": pa.array([2], pa.int32()), "at": pa.array([NOV_23])})
    [path] = archive.append("transition", table)
    written = pq.read_table(path)
    assert written.schema.equals(schema_of("transition"))
    assert written.column("version").to_pylist() == [2]


def test_unknown_columns_and_kinds_are_errors_not_silent_drops(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    with pytest.raises(ArchiveError, match=r"no column\(s\) 'colour'.*the columns are workspace"):
        archive.append("conversion", [{"run": "r", "at": NOV_23, "colour": "red"}])
    with pytest.raises(ArchiveError, match="'orders' is not a record kind"):
        archive.append("orders", [])
    with pytest.raises(ArchiveError, match="row 1 has no 'at'"):
        archive.append("conversion", [{"run": "r", "at": NOV_23}, {"run": "s"}])
    with pytest.raises(ColumnInvalid, match="column 'version'"):
        archive.append("transition", pa.table({"version": ["two"], "at": [NOV_23]}))
    assert archive.files("conversion") == []


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.append("transition", [transition("r1", NOV_23)])
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".parquet")]
    assert leftovers == []


def test_default_path_follows_rumbo_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUMBO_HOME", str(tmp_path))
    assert default_archive_path() == tmp_path / "archive"
    monkeypatch.delenv("RUMBO_HOME")
    assert default_archive_path() == Path("rumbo-data") / "archive"
