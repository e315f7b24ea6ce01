"""The rejects file: every row an import rejected, as it was in the file, with its line and reasons.

It is written in the format its name ends with (`.csv` or `.jsonl`), with the file's own columns plus
`rumbo_line`, `rumbo_reason`, `rumbo_message_id` and, for a row that could not even be split into columns,
`rumbo_text`. Fixing the rows and importing the rejects file with the same mapping is the way to finish an
import: the `rumbo_` columns are never mapped, and `rumbo_message_id` gives each row the id it had, so a
row imported twice is stored once and its dead letter is cleared.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

import orjson

from rumbo.ingest.files.errors import ImportFileError
from rumbo.ingest.files.mapping import RESERVED_PREFIX

EXTRA: Final = ("rumbo_line", "rumbo_reason", "rumbo_message_id", "rumbo_text")
SUFFIXES: Final = (".csv", ".tsv", ".jsonl")


def default_rejects_path(source: Path, fmt: str, delimiter: str = ",") -> Path:
    """`<name>.rejects.csv` (`.tsv` for a tab-separated file, `.jsonl` for JSON lines and Parquet) in the
    current folder, `<name>` being the file's name without its format's suffixes."""
    name = source.name
    for suffix in reversed(source.suffixes):
        if suffix.lower() in (".gz", ".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq"):
            name = name[: -len(suffix)]
        else:
            break
    ext = "jsonl" if fmt != "csv" else ("tsv" if delimiter == "\t" else "csv")
    return Path(f"{name or 'import'}.rejects.{ext}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


class RejectsWriter:
    """Writes rejected rows; the file is created on the first one, so a clean import leaves none."""

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        *,
        source: Path,
        delimiter: str = ",",
        encoding: str = "utf-8",
    ) -> None:
        """A CSV rejects file is written with the source's delimiter and encoding, so that the mapping
        that read the source reads it too."""
        if path.suffix.lower() not in SUFFIXES:
            raise ImportFileError(f"{path}: a rejects file ends in .csv, .tsv or .jsonl")
        if path.resolve() == source.resolve():
            raise ImportFileError(
                f"{path}: the rejects file cannot be the file being imported; give --rejects"
            )
        self.path, self.delimiter, self.encoding = path, delimiter, encoding
        self.columns = [c for c in columns if not c.startswith(RESERVED_PREFIX)]
        self.written = 0
        self._handle: IO[str] | None = None
        self._csv: Any = None

    def _open(self) -> None:
        jsonl = self.path.suffix.lower() == ".jsonl"
        try:
            self._handle = self.path.open(
                "w", encoding="utf-8" if jsonl else self.encoding, errors="replace", newline=""
            )
        except OSError as exc:
            raise ImportFileError(f"{self.path}: the rejects file cannot be written: {exc}") from exc
        if not jsonl:
            self._csv = csv.writer(self._handle, delimiter=self.delimiter)
            self._csv.writerow([*self.columns, *EXTRA])

    def write(
        self,
        line: int | None,
        message_id: str,
        reasons: Sequence[str],
        row: dict[str, Any] | None,
        text: str = "",
    ) -> None:
        if self._handle is None:
            self._open()
        assert self._handle is not None
        values = {k: v for k, v in (row or {}).items() if not k.startswith(RESERVED_PREFIX)}
        extra = {"rumbo_line": line, "rumbo_reason": "; ".join(reasons), "rumbo_message_id": message_id}
        if self._csv is None:
            record = {**values, **extra, **({"rumbo_text": text} if text else {})}
            self._handle.write(orjson.dumps(record, default=_cell).decode() + "\n")
        else:
            # Keys a JSON-lines row has beyond the header's columns keep their values in rumbo_text.
            more = {k: v for k, v in values.items() if k not in self.columns}
            if more and not text:
                text = orjson.dumps(more, default=_cell).decode()
            cells = [_cell(values.get(c)) for c in self.columns]
            self._csv.writerow([*cells, _cell(line), extra["rumbo_reason"], message_id, text])
        self.written += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
