"""Reading CSV, JSON lines and Parquet files in batches of rows, so that memory stays bounded however long
the file is, and so that one row that cannot be read is reported without stopping the others.

* CSV is read with pyarrow's streaming reader, every column as bytes: type inference per block would fail
  the whole file on the first odd value far down, and bytes let a cell in a wrong encoding be one bad row.
  A row with the wrong number of fields is handed to pyarrow's invalid-row handler and reported.
  `line` counts records with the header as line 1 (blank lines are skipped; a quoted value spanning lines
  counts once), which is the row number a spreadsheet shows.
* JSON lines are read line by line with orjson; `line` is the line in the file.
* Parquet is read with pyarrow by row batches; `line` is the row number, from 1.

Files ending in `.gz` (CSV and JSON lines) are read through gzip.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal, cast

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rumbo.ingest.files.errors import FileUnreadable

Format = Literal["csv", "jsonl", "parquet"]
FORMATS: Final = ("csv", "jsonl", "parquet")
_SUFFIXES: Final[dict[str, Format]] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_CSV_BLOCK: Final = 1 << 20  # bytes pyarrow parses at a time: the bound on what a CSV batch holds


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that could not be read at all: where it is, its text as far as known, and why."""

    line: int | None
    text: str
    problem: str


@dataclass(slots=True)
class Batch:
    rows: list[Row] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    done: float = 0.0  # how far through the file, 0 to 1 (for the progress bar)


def format_of(path: Path) -> Format:
    """The format a file's extension names (`.csv`, `.tsv`, `.jsonl`, `.parquet`, also with `.gz`)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    found = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise FileUnreadable(
            f"{path}: cannot tell the format from the name — give --format csv, jsonl or parquet"
        )
    return found


def _gzipped(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


class FileSource:
    """A file opened for import: its columns (known before any row is read) and its batches."""

    def __init__(self, path: Path, fmt: Format, *, batch_rows: int, delimiter: str, encoding: str) -> None:
        if not path.is_file():
            raise FileUnreadable(f"{path}: no such file — give the path of a CSV, JSON lines or Parquet file")
        self.path, self.format, self.batch_rows = path, fmt, batch_rows
        self.delimiter = (
            "\t" if delimiter == "," and ".tsv" in [s.lower() for s in path.suffixes] else delimiter
        )
        self.encoding = encoding
        self.total_rows: int | None = None  # known up front for Parquet only
        self._first: list[Batch] = []
        self.complete = fmt != "jsonl"  # JSON lines: columns are the keys of the first batch
        if fmt == "csv":
            self.columns = self._csv_header()
        elif fmt == "parquet":
            try:
                self._parquet = pq.ParquetFile(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise FileUnreadable(f"{path}: not a Parquet file ({exc}) — check --format") from exc
            self.columns = list(self._parquet.schema_arrow.names)
            self.total_rows = self._parquet.metadata.num_rows
        else:
            self._lines = self._jsonl_batches()
            first = next(self._lines, None)
            self._first = [first] if first is not None else []
            keys: dict[str, None] = {}
            for row in first.rows if first is not None else []:
                keys.update(dict.fromkeys(row.values))
            self.columns = list(keys)

    def batches(self) -> Iterator[Batch]:
        """The file's rows in batches of at most `batch_rows`, in file order."""
        if self.format == "csv":
            yield from self._csv_batches()
        elif self.format == "parquet":
            yield from self._parquet_batches()
        else:
            yield from self._first
            yield from self._lines

    # ---- CSV ---------------------------------------------------------------------------------------
    def _csv_header(self) -> list[str]:
        encoding = "utf-8-sig" if codecs.lookup(self.encoding).name == "utf-8" else self.encoding
        try:
            raw = cast(IO[bytes], _open_binary(self.path))
            # Undecodable bytes further down are single bad rows, found later; only the header's matter here.
            with raw, io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="") as text:
                header = next(csv.reader(text, delimiter=self.delimiter), None)
            if header is not None and any(_undecoded(name) for name in header):
                raise UnicodeError(f"the header is not {self.encoding} text")
        except (OSError, UnicodeError, csv.Error, EOFError) as exc:
            raise FileUnreadable(
                f"{self.path}, line 1: the header cannot be read as {self.encoding} CSV ({exc}) — set "
                "`encoding:` or `delimiter:` in the mapping, or check --format"
            ) from exc
        if not header or not any(name.strip() for name in header):
            raise FileUnreadable(f"{self.path}: the file is empty — a CSV file starts with a header line")
        problems = [f"column {n + 1} has no name" for n, name in enumerate(header) if not name.strip()]
        problems += [
            f"column {name!r} appears twice" for name in sorted({h for h in header if header.count(h) > 1})
        ]
        if problems:
            raise FileUnreadable(f"{self.path}, line 1: {'; '.join(problems)} — name every column once")
        return header

    def _csv_batches(self) -> Iterator[Batch]:
        bad: list[BadRow] = []
        skipped: set[int] = set()

        def invalid(row: Any) -> str:
            number = row.number if isinstance(row.number, int) and row.number > 0 else None
            problem = f"has {row.actual_columns} fields where the header has {row.expected_columns}"
            bad.append(BadRow(number, row.text, problem))
            if number is not None:
                skipped.add(number)
            return "skip"

        raw = pa.OSFile(str(self.path))
        size = max(raw.size(), 1)
        stream = pa.CompressedInputStream(raw, "gzip") if _gzipped(self.path) else raw
        line = 1
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=_CSV_BLOCK),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.binary() for name in self.columns}, strings_can_be_null=False
                ),
            )
            utf8 = codecs.lookup(self.encoding).name == "utf-8"
            for record_batch in reader:
                for start in range(0, record_batch.num_rows, self.batch_rows):
                    chunk = record_batch.slice(start, self.batch_rows)
                    batch = Batch(done=raw.tell() / size)
                    for values in self._decoded(chunk, utf8):
                        line += 1
                        while line in skipped:
                            line += 1
                        if isinstance(values, BadRow):
                            batch.bad.append(BadRow(line, values.text, values.problem))
                        else:
                            batch.rows.append(Row(line, values))
                    batch.bad.extend(bad)
                    bad.clear()
                    yield batch
            if bad:
                yield Batch(bad=list(bad), done=1.0)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileUnreadable(f"{self.path}: cannot be read as CSV past line {line}: {exc}") from exc
        finally:
            raw.close()

    def _decoded(self, chunk: pa.RecordBatch, utf8: bool) -> list[dict[str, str] | BadRow]:
        """The rows as text; a row with a cell not in the file's encoding is a BadRow (its line set later)."""
        if utf8:
            try:
                return list(chunk.cast(pa.schema([(n, pa.string()) for n in chunk.schema.names])).to_pylist())
            except pa.ArrowInvalid:
                pass  # some cell is not UTF-8: find which, row by row
        rows: list[dict[str, str] | BadRow] = []
        for values in chunk.to_pylist():
            try:
                rows.append({k: v.decode(self.encoding) for k, v in values.items()})
            except UnicodeDecodeError as exc:
                column = next(k for k, v in values.items() if not _decodes(v, self.encoding))
                text = self.delimiter.join(v.decode(self.encoding, "replace") for v in values.values())
                problem = (
                    f'column "{column}" is not {self.encoding} text ({exc.reason}) — set `encoding:` in the '
                    "mapping to the file's encoding"
                )
                rows.append(BadRow(None, text, problem))
        return rows

    # ---- JSON lines ----------------------------------------------------------------------------------
    def _jsonl_batches(self) -> Iterator[Batch]:
        try:
            size = max(self.path.stat().st_size, 1)
            raw = self.path.open("rb")
        except OSError as exc:
            raise FileUnreadable(f"{self.path}: cannot be opened: {exc}") from exc
        with raw:
            handle: io.BufferedIOBase = gzip.GzipFile(fileobj=raw) if _gzipped(self.path) else raw
            batch = Batch()
            line = 0
            try:
                for text in handle:
                    line += 1
                    if not text.strip():
                        continue
                    try:
                        value = orjson.loads(text)
                    except orjson.JSONDecodeError as exc:
                        batch.bad.append(BadRow(line, _shown(text), f"is not JSON: {exc}"))
                    else:
                        if isinstance(value, dict):
                            batch.rows.append(Row(line, value))
                        else:
                            batch.bad.append(BadRow(line, _shown(text), "must be one JSON object per line"))
                    if len(batch.rows) + len(batch.bad) >= self.batch_rows:
                        batch.done = raw.tell() / size
                        yield batch
                        batch = Batch()
            except (OSError, EOFError) as exc:
                raise FileUnreadable(f"{self.path}: cannot be read past line {line}: {exc}") from exc
            if batch.rows or batch.bad:
                batch.done = 1.0
                yield batch

    # ---- Parquet -------------------------------------------------------------------------------------
    def _parquet_batches(self) -> Iterator[Batch]:
        line = 0
        total = max(self.total_rows or 0, 1)
        try:
            for record_batch in self._parquet.iter_batches(batch_size=self.batch_rows):
                rows = []
                for values in record_batch.to_pylist():
                    line += 1
                    rows.append(Row(line, values))
                yield Batch(rows, done=line / total)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileUnreadable(f"{self.path}: cannot be read past row {line}: {exc}") from exc


def _open_binary(path: Path) -> io.BufferedIOBase:
    return gzip.open(path) if _gzipped(path) else path.open("rb")


def _undecoded(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _decodes(value: bytes, encoding: str) -> bool:
    try:
        value.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _shown(text: bytes) -> str:
    return text.decode("utf-8", "replace").rstrip("\r\n")
