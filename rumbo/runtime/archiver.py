"""The archive exporter: copies each workspace's event log and records from the store to its Parquet
archive as they are written, each row exactly once, whatever crashes on the way.

Layout: `<root>/<workspace>/` is an ordinary analytics `Archive` (rumbo/analytics/archive.py) holding that
workspace's rows and no other's, so `rumbo analyze … --archive <root>/<workspace>` and the analytics API
read one workspace. Events are archived as received (the `event` record of ingestion), with the customer
identity resolution settled on; the runtime's own `merge` messages are not events and are left out. The
records — transitions, decisions, suppressions, conversions and delivery outcomes — are archived as the
engine and the delivery side wrote them, with the customer they belong to now.

One round, per workspace and record kind (rumbo/store/archive_feed.py has the cursors and the horizon):
1. claim the kind's cursor: a lease in the store, renewed by every batch, released at the end of the round;
2. if a batch is pending (an exporter died while writing it), redo exactly that range;
3. otherwise read up to `batch` rows after the cursor and no further than the horizon, and record the
   batch as pending;
4. write its files, then move the cursor past it.
Files are written by `Archive.append` into a staging folder, then renamed into place as
`<kind>/day=YYYY-MM-DD/part-<from>-<to>.parquet`, named after the batch's range of positions. A file already
there holds the same rows (written before a crash) and is left as it is. So nothing is lost or written twice:
until the cursor moves, the range is redone and only its missing files are written; once it has moved, the
range is never read again. Files are flushed to disk before the cursor moves, so a power cut cannot leave a
cursor past rows that never reached the disk.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from rumbo.analytics.archive import Archive, ArchiveError
from rumbo.analytics.convert import arrow_type
from rumbo.errors import RumboError
from rumbo.ingest.messages import event_record
from rumbo.records import FIELDS
from rumbo.runtime.intake import is_runtime_note
from rumbo.store.archive_feed import KINDS, ArchiveFeed, Cursor, FeedRow, Position
from rumbo.store.sql import SqlStore

log = logging.getLogger("rumbo.archiver")

ARCHIVE_SETTING = "RUMBO_ARCHIVE"
DEFAULT_BATCH = 20_000
DEFAULT_LEASE = 120.0
DEFAULT_INTERVAL = 30.0
# Workspace ids become folder names: only what `rumbo workspace create` allows (no '/', no leading '.').
_SAFE_WORKSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class LeaseLost(RumboError):
    """Another exporter took a cursor over (this one stalled past its lease); this round stops there."""


def archive_root(archive: Path | None, database_url: str | None, home: Path | None) -> Path | None:
    """Where `rumbo serve` keeps the archive: `archive` if given, else RUMBO_ARCHIVE, else `<home>/archive`
    when the store is SQLite (home: RUMBO_HOME or ./rumbo-data). None on PostgreSQL without either: several
    processes share that database, and each would otherwise fill an archive of its own."""
    if archive is not None:
        return archive
    if os.environ.get(ARCHIVE_SETTING):
        return Path(os.environ[ARCHIVE_SETTING])
    if database_url or (home is None and os.environ.get("RUMBO_DATABASE_URL")):
        return None
    from rumbo.store.sqlite import default_home

    return (home if home is not None else default_home()) / "archive"


def workspace_archive(root: Path, workspace: str) -> Archive:
    """The archive of one workspace under the exporter's root."""
    if not _SAFE_WORKSPACE.fullmatch(workspace):
        raise ArchiveError(f"workspace {workspace!r} cannot name an archive folder; rename the workspace")
    return Archive(root / workspace)


@dataclass(slots=True)
class KindExport:
    """What one round did for one kind of one workspace."""

    workspace: str
    kind: str
    rows: int = 0  # archived this round
    files: int = 0
    position: Position | None = None  # the cursor after the round
    held_by: str | None = None  # another exporter holds the cursor: skipped
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "kind": self.kind,
            "rows": self.rows,
            "files": self.files,
            "position": None if self.position is None else str(self.position),
            "held_by": self.held_by,
            "error": self.error,
        }


@dataclass(slots=True)
class ExportReport:
    kinds: list[KindExport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(k.rows for k in self.kinds)

    @property
    def files(self) -> int:
        return sum(k.files for k in self.kinds)

    @property
    def errors(self) -> list[KindExport]:
        return [k for k in self.kinds if k.error is not None]


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows in the range (cursor.position, end], to be written, after which the cursor moves to `to`
    (past `end` when the rows ran out before the horizon: nothing lies between)."""

    cursor: Cursor
    end: Position
    to: Position
    rows: Sequence[FeedRow]


class Archiver:
    """Copies the store's events and records to `<root>/<workspace>/`; see the module docstring.

    `store` is this exporter's own connection. `owner` names it in the cursors' leases (default: host, pid
    and a random part, so a restarted process is a new owner and waits out its predecessor's lease).
    """

    def __init__(
        self,
        store: SqlStore,
        root: Path,
        *,
        batch: int = DEFAULT_BATCH,
        lease: float = DEFAULT_LEASE,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1 row")
        self.store, self.root, self.batch, self.lease, self.clock = store, Path(root), batch, lease, clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.feed = ArchiveFeed(store)

    # --- rounds -------------------------------------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = DEFAULT_INTERVAL) -> None:
        """Export every workspace every `interval` seconds until `stop` is set."""
        log.info("exporting the analytics archive to %s every %g s", self.root, interval)
        while not stop.is_set():
            try:
                report = self.export()
                for failed in report.errors:
                    log.error("archive %s/%s: %s", failed.workspace, failed.kind, failed.error)
            except Exception:  # the loop must outlive a bad moment (a database restart, a full disk)
                log.exception("archive export failed; retrying in %.0f s", interval)
            stop.wait(interval)

    def export(self, workspaces: Sequence[str] | None = None) -> ExportReport:
        """One round: every kind of every workspace (or of those given) exported up to the horizon."""
        report = ExportReport()
        for workspace in workspaces if workspaces is not None else self.store.workspaces():
            for kind in KINDS:
                report.kinds.append(self.export_kind(workspace, kind))
        return report

    def export_kind(self, workspace: str, kind: str) -> KindExport:
        """Export one kind of one workspace up to the horizon, batch by batch."""
        done = KindExport(workspace, kind)
        try:
            cursor = self.claim(workspace, kind)
        except RumboError as exc:
            done.error = str(exc)
            return done
        if cursor is None:
            held = self.feed.cursors(workspace)
            done.held_by = next((c.owner for c in held if c.kind == kind), None) or "another exporter"
            return done
        try:
            while (batch := self.next_batch(cursor)) is not None:
                files, rows = self.write_batch(batch)
                cursor = self.finish_batch(batch, rows)
                done.files += len(files)
                done.rows += rows
            cursor = self.skip_to_horizon(cursor)
            done.position = cursor.position
        except (RumboError, OSError) as exc:
            done.error = str(exc)
        finally:
            self.feed.release(workspace, kind, self.owner)
        return done

    # --- the steps of a round (public so that tests can stop between any two) ----------------------

    def claim(self, workspace: str, kind: str) -> Cursor | None:
        """The kind's cursor under this exporter's lease; None while another exporter holds it."""
        workspace_archive(self.root, workspace)  # refuse an unusable workspace id before touching anything
        return self.feed.claim(workspace, kind, self.owner, now=self.clock(), lease=self.lease)

    def next_batch(self, cursor: Cursor) -> Batch | None:
        """The pending batch to redo, or the next one (recorded as pending first); None when caught up."""
        if cursor.pending is not None:
            rows = self.feed.rows(cursor.workspace, cursor.kind, cursor.position, cursor.pending)
            return Batch(cursor, cursor.pending, cursor.pending, rows)
        horizon = self.feed.horizon(cursor.kind)
        if horizon <= cursor.position:
            return None
        rows = self.feed.rows(cursor.workspace, cursor.kind, cursor.position, horizon, limit=self.batch)
        if not rows:
            return None
        end = rows[-1].position
        to = end if len(rows) == self.batch else horizon
        if not self.feed.begin(cursor, self.owner, end, now=self.clock(), lease=self.lease):
            raise LeaseLost(self._lost(cursor))
        return Batch(replace(cursor, pending=end), end, to, rows)

    def write_batch(self, batch: Batch) -> tuple[list[Path], int]:
        """Write the batch's files, leaving alone those already there; returns the files written and the
        number of rows the batch archives."""
        cursor = batch.cursor
        archive = workspace_archive(self.root, cursor.workspace)
        rows = [r for r in (self._archive_row(cursor, row) for row in batch.rows) if r is not None]
        if not rows:
            return [], 0
        name = f"part-{cursor.position}-{batch.end}.parquet"
        staging = archive.root / ".staging" / f"{cursor.kind}-{cursor.position}-{batch.end}"
        shutil.rmtree(staging, ignore_errors=True)  # what a crash left half-written
        written: list[Path] = []
        staged = Archive(staging).append(cursor.kind, _columns(cursor.kind, rows))
        folders = [path.parent.relative_to(staging) for path in staged]
        if len(set(folders)) != len(folders):
            raise ArchiveError(f"{staging}: more than one file for one day; the exporter names one per day")
        for path, folder in zip(staged, folders, strict=True):
            target = archive.root / folder / name
            if target.exists():
                continue  # written before a crash: the same rows
            target.parent.mkdir(parents=True, exist_ok=True)
            _flush(path)
            os.replace(path, target)
            _flush(target.parent)
            written.append(target)
        shutil.rmtree(staging, ignore_errors=True)
        return written, len(rows)

    def finish_batch(self, batch: Batch, rows: int) -> Cursor:
        """Move the cursor past a written batch; the cursor as it now is."""
        cursor = batch.cursor
        if not self.feed.advance(cursor, self.owner, batch.to, rows=rows, now=self.clock(), lease=self.lease):
            raise LeaseLost(self._lost(cursor))
        return replace(cursor, position=batch.to, pending=None, exported=cursor.exported + rows)

    def skip_to_horizon(self, cursor: Cursor) -> Cursor:
        """With nothing left to export, move the cursor up to the horizon, so the next round starts there
        rather than reading again past rows of other workspaces and kinds."""
        horizon = self.feed.horizon(cursor.kind)
        if horizon <= cursor.position:
            return cursor
        if self.feed.rows(cursor.workspace, cursor.kind, cursor.position, horizon, limit=1):
            return cursor  # rows arrived meanwhile: the next round takes them
        if not self.feed.advance(cursor, self.owner, horizon, rows=0, now=self.clock(), lease=self.lease):
            raise LeaseLost(self._lost(cursor))
        return replace(cursor, position=horizon)

    # --- rows ---------------------------------------------------------------------------------------

    @staticmethod
    def _archive_row(cursor: Cursor, row: FeedRow) -> dict[str, Any] | None:
        data = orjson.loads(row.body)
        if cursor.kind == "event":
            if is_runtime_note(data.get("type")):
                return None  # not something the customer did
            return event_record(cursor.workspace, data, row.customer, row.at, row.received_at or row.at)
        record = {name: data.get(name) for name in FIELDS[cursor.kind]}
        record["workspace"], record["customer"] = cursor.workspace, row.customer
        return record

    def _lost(self, cursor: Cursor) -> str:
        return (
            f"archive cursor {cursor.workspace}/{cursor.kind}: another exporter took it over while this one "
            f"({self.owner}) held it; the batch is left pending and will be redone — give exporters a "
            "longer lease if batches take that long"
        )


def _columns(kind: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """The rows as an Arrow table, a column at a time (times as epoch seconds, JSON values as text), which
    `Archive.append` then checks and types; building it here costs a fraction of handing it dicts."""
    arrays = []
    for name, ftype in FIELDS[kind].items():
        values = [row.get(name) for row in rows]
        if ftype == "json":
            values = [
                None if v is None else v if isinstance(v, str) else orjson.dumps(v).decode() for v in values
            ]
        try:
            arrays.append(pa.array(values, pa.float64() if ftype == "timestamp" else arrow_type(ftype)))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ArchiveError(
                f"{kind} column {name!r}: {exc} — the store holds a value of the wrong type"
            ) from exc
    return pa.Table.from_arrays(arrays, names=list(FIELDS[kind]))


def _flush(path: Path) -> None:
    """Push a file's (or a folder's) data to the disk, so a power cut cannot take back what was renamed."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
