"""The analytical archive: every record kind as Parquet files partitioned by day.

Layout: ``root/<kind>/day=YYYY-MM-DD/part-<uuid>.parquet``, one folder per record kind of
``rumbo.records.FIELDS`` (event, transition, decision, suppression, delivery, conversion). The runtime
appends continuously; an analyst can also import CSV, Parquet or JSON-lines files rumbo did not collect.

Why this shape: Parquet is columnar, so an analysis reads only the columns it needs; day partitions let an
engine skip whole days and let retention drop a folder; every append writes *new* files (never rewrites
one), so readers and writers need no lock. A file is written under a hidden temporary name and renamed into
place, so a query never sees half a file. Every file carries the full schema of its kind, derived from
``FIELDS``, so DuckDB and ClickHouse read the same columns with the same types.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rumbo.analytics.convert import arrow_type, to_column, to_timestamp_column
from rumbo.analytics.importing import ImportReport, read_external, shape_import
from rumbo.errors import AnalyticsError
from rumbo.records import FIELDS, FieldType

TIME_COLUMN: Final[dict[str, str]] = {kind: ("timestamp" if kind == "event" else "at") for kind in FIELDS}
"""The column each kind is partitioned by: when the record happened."""


class ArchiveError(AnalyticsError):
    """Records could not be written to, or read from, the archive."""


def schema_of(kind: str) -> pa.Schema:
    """The Arrow schema of one record kind, derived from ``FIELDS`` (every column nullable)."""
    fields = _fields(kind)
    return pa.schema([pa.field(name, arrow_type(ftype)) for name, ftype in fields.items()])


def default_archive_path() -> Path:
    """``$RUMBO_HOME/archive``, with ``RUMBO_HOME`` defaulting to ``./rumbo-data``."""
    return Path(os.environ.get("RUMBO_HOME", "rumbo-data")) / "archive"


class Archive:
    """A folder of day-partitioned Parquet files, one sub-folder per record kind."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Archive({str(self.root)!r})"

    def files(self, kind: str) -> list[Path]:
        """Every Parquet file of one kind, oldest day first."""
        _fields(kind)
        return sorted((self.root / kind).glob("day=*/*.parquet"))

    def glob(self, kind: str) -> str:
        """The glob pattern matching every file of one kind, as engines read it."""
        _fields(kind)
        return str(self.root.resolve() / kind / "day=*" / "*.parquet")

    def append(self, kind: str, rows: Sequence[Mapping[str, Any]] | pa.Table) -> list[Path]:
        """Write records of one kind as new files, one per day; returns the files written.

        ``rows`` are dicts (timestamps as epoch-second floats or datetimes, JSON columns as any JSON value)
        or an Arrow table; columns missing from them are written as nulls. A column the kind does not have is
        an error rather than silently dropped.
        """
        table = rows if isinstance(rows, pa.Table) else _table_from_rows(kind, rows)
        return self._write(kind, conform(kind, table, where=f"append({kind!r})"))

    def _write(self, kind: str, table: pa.Table) -> list[Path]:
        if table.num_rows == 0:
            return []
        time_column = TIME_COLUMN[kind]
        times = table.column(time_column)
        if times.null_count:
            first = pc.index(pc.is_null(times), True).as_py()
            raise ArchiveError(
                f"{kind} row {first} has no {time_column!r}: every record needs the time it happened, "
                "because the archive is partitioned by day — fill the column or drop the row"
            )
        table = table.sort_by(time_column)
        days = pc.cast(pc.cast(table.column(time_column), pa.timestamp("us")), pa.date32())
        written: list[Path] = []
        for day in pc.unique(days).to_pylist():
            part = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            written.append(self._write_file(kind, day, part))
        return written

    def _write_file(self, kind: str, day: date, part: pa.Table) -> Path:
        folder = self.root / kind / f"day={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        temporary = folder / f".{name}.tmp"
        pq.write_table(part, temporary, compression="zstd")
        os.replace(temporary, folder / name)
        return folder / name

    def import_file(
        self, kind: str, path: str | Path, mapping: Mapping[str, str] | None = None
    ) -> ImportReport:
        """Import a CSV, Parquet or JSON-lines file of records from outside rumbo.

        ``mapping`` renames source columns to archive columns (``{"order_date": "timestamp"}``). For events,
        missing Segment fields get sensible defaults (customer from userId or anonymousId, type "track",
        workspace "default", a messageId derived from the row) and any other source column is kept inside
        ``properties``, so nothing in the file is lost. For other kinds, unknown columns are reported.
        """
        source = Path(path)
        renames = dict(mapping or {})
        table, report = shape_import(kind, read_external(source, renames), source, renames)
        report.files = self._write(kind, conform(kind, table, where=str(source)))
        return report


def conform(kind: str, table: pa.Table, *, where: str) -> pa.Table:
    """``table`` with exactly the columns of ``kind``, in order and with the archive's types."""
    fields = _fields(kind)
    unknown = [name for name in table.column_names if name not in fields]
    if unknown:
        raise ArchiveError(
            f"{where}: {kind} records have no column(s) {', '.join(map(repr, unknown))}; "
            f"the columns are {', '.join(fields)} — rename or drop the others"
        )
    columns = []
    for name, ftype in fields.items():
        if name in table.column_names:
            columns.append(to_column(table.column(name), ftype, where=f"{where}: column {name!r}"))
        else:
            columns.append(pa.nulls(table.num_rows, arrow_type(ftype)))
    return pa.Table.from_arrays(columns, schema=schema_of(kind))


def _table_from_rows(kind: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    fields = _fields(kind)
    for index, row in enumerate(rows):
        unknown = [name for name in row if name not in fields]
        if unknown:
            raise ArchiveError(
                f"{kind} row {index} has no column(s) {', '.join(map(repr, unknown))}; "
                f"the columns are {', '.join(fields)}"
            )
    arrays = [
        _python_column(kind, name, ftype, [row.get(name) for row in rows]) for name, ftype in fields.items()
    ]
    return pa.Table.from_arrays(arrays, schema=schema_of(kind))


def _python_column(kind: str, name: str, ftype: FieldType, values: list[Any]) -> pa.Array:
    where = f"{kind} column {name!r}"
    if ftype == "timestamp":
        return to_timestamp_column(pa.array([_epoch(v, where) for v in values], pa.float64()), where=where)
    if ftype == "json":
        return pa.array(
            [None if v is None else v if isinstance(v, str) else orjson.dumps(v).decode() for v in values],
            pa.string(),
        )
    try:
        return pa.array(values, arrow_type(ftype))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ArchiveError(f"{where}: {exc} — give {ftype} values") from exc


def _epoch(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return _epoch(datetime.fromisoformat(value.replace("Z", "+00:00")), where)
        except ValueError:
            pass
    raise ArchiveError(f"{where}: {value!r} is not a time — give epoch seconds, a datetime or ISO 8601 text")


def _fields(kind: str) -> dict[str, FieldType]:
    try:
        return FIELDS[kind]
    except KeyError:
        raise ArchiveError(f"{kind!r} is not a record kind; the archive holds {', '.join(FIELDS)}") from None
