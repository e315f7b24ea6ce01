"""Bringing files rumbo did not collect into the archive: CSV, Parquet or JSON lines of events or orders.

The analyst's file rarely has Segment's column names, so a mapping renames columns, missing Segment fields
get defaults that are reported, and for events every column that is not a Segment field is kept inside
``properties`` (an order file's ``total`` or ``sku`` stays usable as ``properties.total``). Nothing in the
file is dropped without saying so: the ImportReport lists what was renamed, defaulted, folded or ignored.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from rumbo.errors import AnalyticsError
from rumbo.records import FIELDS

_STRING_FIELDS = {
    name for kind in FIELDS.values() for name, ftype in kind.items() if ftype in ("string", "json")
}


class ImportInvalid(AnalyticsError):
    """A file to import cannot be read as records of the kind asked for."""


@dataclass
class ImportReport:
    """What an import did: rows written, files, and how each source column was used."""

    kind: str
    source: Path
    rows: int
    files: list[Path] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    into_properties: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    defaulted: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "kind": self.kind,
            "source": str(self.source),
            "rows": self.rows,
            "files": [str(p) for p in self.files],
            "renamed": dict(self.renamed),
            "into_properties": list(self.into_properties),
            "ignored": list(self.ignored),
            "defaulted": dict(self.defaulted),
        }


def read_external(path: Path, mapping: dict[str, str] | None = None) -> pa.Table:
    """A CSV (``.csv``/``.tsv``), Parquet (``.parquet``/``.pq``) or JSON-lines (``.jsonl``/``.json``) file."""
    if not path.is_file():
        raise ImportInvalid(f"{path}: no such file — give the path of a CSV, Parquet or JSON-lines file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pajson.read_json(path)
        if suffix in (".csv", ".tsv", ".txt"):
            return _read_csv(path, "\t" if suffix == ".tsv" else ",", mapping or {})
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportInvalid(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc
    raise ImportInvalid(f"{path}: unknown file type {suffix!r} — use .csv, .tsv, .parquet or .jsonl")


def _read_csv(path: Path, delimiter: str, mapping: dict[str, str]) -> pa.Table:
    # Identifier-like columns stay text: an id such as "007" must not become the number 7.
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), [])
    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header if mapping.get(name, name) in _STRING_FIELDS},
        strings_can_be_null=True,
    )
    return pacsv.read_csv(
        path, parse_options=pacsv.ParseOptions(delimiter=delimiter), convert_options=options
    )


def shape_import(
    kind: str, raw: pa.Table, source: Path, mapping: dict[str, str]
) -> tuple[pa.Table, ImportReport]:
    """Rename, default and fold ``raw``'s columns into the columns of ``kind``; the report says how."""
    if kind not in FIELDS:
        raise ImportInvalid(f"{kind!r} is not a record kind; import one of {', '.join(FIELDS)}")
    fields = FIELDS[kind]
    missing = [name for name in mapping if name not in raw.column_names]
    if missing:
        raise ImportInvalid(
            f"{source}: the mapping names column(s) {', '.join(map(repr, missing))} that the file does not "
            f"have; its columns are {', '.join(raw.column_names)}"
        )
    report = ImportReport(kind=kind, source=source, rows=raw.num_rows, renamed=dict(mapping))
    names = [mapping.get(name, name) for name in raw.column_names]
    table = raw.rename_columns(names)
    extra = [name for name in table.column_names if name not in fields]
    if kind == "event":
        table = _fold_into_properties(table, extra)
        report.into_properties = extra
        table = _event_defaults(table, source, report)
    else:
        table = table.drop_columns(extra)
        report.ignored = extra
        if "workspace" not in table.column_names:
            table = table.append_column("workspace", pa.array(["default"] * table.num_rows, pa.string()))
            report.defaulted["workspace"] = "'default'"
    time_column = "timestamp" if kind == "event" else "at"
    if time_column not in table.column_names:
        raise ImportInvalid(
            f"{source}: {kind} records need a {time_column!r} column and the file has none — map the "
            f"column that holds when each record happened, e.g. --map order_date={time_column}"
        )
    return table, report


def _fold_into_properties(table: pa.Table, extra: list[str]) -> pa.Table:
    if not extra:
        return table
    rows = table.select(extra).to_pylist()
    existing = (
        table.column("properties").to_pylist() if "properties" in table.column_names else [None] * len(rows)
    )
    merged = []
    for own, row in zip(existing, rows, strict=True):
        base: dict[str, Any] = {}
        if isinstance(own, str) and own:
            parsed = orjson.loads(own)
            base = parsed if isinstance(parsed, dict) else {"value": parsed}
        elif isinstance(own, dict):
            base = own
        base.update({k: v for k, v in row.items() if v is not None})
        merged.append(orjson.dumps(base, default=str).decode())
    table = table.drop_columns([*extra, *(["properties"] if "properties" in table.column_names else [])])
    return table.append_column("properties", pa.array(merged, pa.string()))


def _event_defaults(table: pa.Table, source: Path, report: ImportReport) -> pa.Table:
    n = table.num_rows

    def text(name: str) -> pa.Array:
        return pc.cast(table.column(name).combine_chunks(), pa.string())

    if "customer" not in table.column_names:
        candidates = [text(name) for name in ("userId", "anonymousId") if name in table.column_names]
        if not candidates:
            raise ImportInvalid(
                f"{source}: events need a customer, userId or anonymousId column — map the column that "
                "identifies the customer, e.g. --map customer_id=customer"
            )
        customer = pc.coalesce(*candidates) if len(candidates) > 1 else candidates[0]
        table = table.append_column("customer", customer)
        report.defaulted["customer"] = "userId, else anonymousId"
    customers = table.column("customer")
    if customers.null_count:
        row = pc.index(pc.is_null(customers), True).as_py()
        raise ImportInvalid(f"{source}, row {row}: the event has no customer — every event needs one")
    for name, value in (("workspace", "default"), ("type", "track")):
        if name not in table.column_names:
            table = table.append_column(name, pa.array([value] * n, pa.string()))
            report.defaulted[name] = repr(value)
    if "received_at" not in table.column_names and "timestamp" in table.column_names:
        table = table.append_column("received_at", table.column("timestamp"))
        report.defaulted["received_at"] = "timestamp"
    if "messageId" not in table.column_names:
        table = table.append_column("messageId", _content_ids(table))
        report.defaulted["messageId"] = "hash of the row, so importing the same file twice gives the same ids"
    return table


def _content_ids(table: pa.Table) -> pa.Array:
    ids = []
    for row in table.to_pylist():
        digest = hashlib.sha1(orjson.dumps(row, default=str, option=orjson.OPT_SORT_KEYS)).hexdigest()
        ids.append(f"import-{digest[:24]}")
    return pa.array(ids, pa.string())
