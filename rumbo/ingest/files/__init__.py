"""Offline and batch sources: rows of CSV, JSON lines and Parquet files made into Segment messages.

`readers` streams a file in batches (bounded memory, one unreadable row reported without stopping the
rest), `mapping` says which column fills which message field as what type, `rows` binds a mapping to a
file's columns and makes each row's message, `rejects` and `report` write down what was refused and why.
The messages then take ingestion's own path (rumbo/runtime/importer.py). See docs/import.md.
"""

from __future__ import annotations

from rumbo.ingest.files.errors import FileUnreadable, ImportFileError, MappingInvalid
from rumbo.ingest.files.mapping import ColumnMapping, ColumnRule, load_mapping, with_options
from rumbo.ingest.files.readers import FORMATS, FileSource, format_of
from rumbo.ingest.files.rejects import RejectsWriter, default_rejects_path
from rumbo.ingest.files.report import ImportReport
from rumbo.ingest.files.rows import RowMapper

__all__ = [
    "FORMATS",
    "ColumnMapping",
    "ColumnRule",
    "FileSource",
    "FileUnreadable",
    "ImportFileError",
    "ImportReport",
    "MappingInvalid",
    "RejectsWriter",
    "RowMapper",
    "default_rejects_path",
    "format_of",
    "load_mapping",
    "with_options",
]
