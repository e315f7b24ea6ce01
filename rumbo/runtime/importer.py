"""`rumbo import`: rows of a CSV, JSON lines or Parquet file into the event log, as if sent over HTTP.

Each batch of rows is mapped to Segment messages (rumbo/ingest/files) and then takes exactly the path of a
`/v1/batch` request: `ingest_payload` checks and normalises every message and judges it by the workspace's
tracking plan, and `append_accepted` resolves identities and appends the accepted messages, keeping the
rejected and blocked ones as dead letters, all in one transaction per batch. So journeys react to imported
events exactly as to live ones, a resent messageId is stored once, and what the plan blocks waits for
`rumbo deadletters replay`.

What HTTP answers to the sender, an import writes down: each rejected row goes to the rejects file with its
line and reasons, and is kept as a dead letter (rule `rejected`, or the plan rule that blocked it). A row
that is imported clears a dead letter with its messageId, so finishing an import from its fixed rejects
file leaves no stale letters behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from rumbo.identity import IdentifierInvalid, identifiers_from_message
from rumbo.ingest import Accepted, DeadLetter, IngestSettings, Issue, TrackingPlan, ingest_payload
from rumbo.ingest.files import ColumnMapping, FileUnreadable, ImportFileError
from rumbo.ingest.files.readers import Batch, FileSource, Format, Row, format_of
from rumbo.ingest.files.rejects import RejectsWriter, default_rejects_path
from rumbo.ingest.files.report import ImportReport
from rumbo.ingest.files.rows import RowMapper, generated_id
from rumbo.runtime.appender import append_retrying
from rumbo.runtime.setup import WorkspaceSetups
from rumbo.store.profiles import SqlDeadLetters, add_letter
from rumbo.store.sql import SqlStore

REJECTED_RULE = "rejected"  # the dead-letter rule of messages that could not be accepted at all
BATCH_ROWS: Final = 2000  # rows per transaction: large enough to amortise a commit, small enough to stream

Progress = Callable[[ImportReport, float], None]


def open_import(
    store: SqlStore,
    path: Path,
    mapping: ColumnMapping,
    *,
    workspace: str = "default",
    fmt: Format | None = None,
    dry_run: bool = False,
    rejects: Path | None = None,
    batch_rows: int = BATCH_ROWS,
    received_at: float | None = None,
) -> Importer:
    """An importer for `path` into `workspace`, with every check that can be made before the first row
    done: the workspace exists, the file opens in its format, the mapping fits its columns.

    `rejects` is the rejects file (default: `<name>.rejects.csv|jsonl` in the current folder).
    """
    if workspace not in store.workspaces():
        raise ImportFileError(
            f"no workspace {workspace!r} in this database — create it with `rumbo workspace create "
            f"{workspace}`, or give --workspace (`rumbo workspace list` names them)"
        )
    fmt = fmt or format_of(path)
    source = FileSource(
        path, fmt, batch_rows=batch_rows, delimiter=mapping.delimiter, encoding=mapping.encoding
    )
    mapper = RowMapper.bind(mapping, source.columns, path.name, complete=source.complete)
    writer = RejectsWriter(
        rejects or default_rejects_path(path, fmt, source.delimiter),
        source.columns,
        source=path,
        delimiter=source.delimiter,
        encoding=mapping.encoding,
    )
    report = ImportReport(path, fmt, workspace, dry_run=dry_run, notes=list(mapping.notes))
    return Importer(
        None if dry_run else store,
        source,
        mapper,
        report,
        plan=WorkspaceSetups(lambda: store).tracking_plan(workspace),
        rejects=writer,
        received_at=time.time() if received_at is None else received_at,
    )


@dataclass(slots=True)
class _Rejection:
    line: int | None
    message_id: str
    reasons: list[str]
    row: dict[str, Any] | None
    text: str


@dataclass(slots=True)
class _Pending:
    """A batch on its way: each message's row, the dead letters to keep and the rows rejected so far."""

    rows: list[tuple[Row, dict[str, Any]]] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    rejections: list[_Rejection] = field(default_factory=list)
    _by_id: dict[str, Row] | None = None

    def row_of(self, message_id: str) -> Row:
        if self._by_id is None:
            self._by_id = {str(message["messageId"]): row for row, message in self.rows}
        return self._by_id[message_id]


class Importer:
    """Imports one file's batches into one workspace; `run()` returns the report.

    `store` None makes a dry run: every check but the log's (duplicates are not known) and nothing written.
    """

    def __init__(
        self,
        store: SqlStore | None,
        source: FileSource,
        mapper: RowMapper,
        report: ImportReport,
        *,
        plan: TrackingPlan | None,
        rejects: RejectsWriter | None,
        received_at: float,
        settings: IngestSettings | None = None,
    ) -> None:
        self.store, self.source, self.mapper, self.report = store, source, mapper, report
        self.plan, self.rejects, self.received_at = plan, rejects, received_at
        self.settings = settings or IngestSettings()
        self.workspace = report.workspace
        # Rows rejected or blocked before that now get through clear their letters; most workspaces
        # have none, and then no batch needs to look.
        self._has_letters = store is not None and bool(SqlDeadLetters(store).counts(self.workspace))

    def run(self, progress: Progress | None = None) -> ImportReport:
        """Import every batch; a file that turns unreadable part way stops the import with `stopped` set,
        keeping what the batches before it committed."""
        started = time.perf_counter()
        try:
            for batch in self.source.batches():
                self._batch(batch)
                self.report.seconds = time.perf_counter() - started
                if progress is not None:
                    progress(self.report, batch.done)
        except FileUnreadable as exc:
            self.report.stopped = f"{exc} — the rows before it were imported; importing again skips them"
        finally:
            self.report.seconds = time.perf_counter() - started
            self.report.folded, self.report.ignored = list(self.mapper.folded), list(self.mapper.ignored)
            if self.rejects is not None:
                self.rejects.close()
                if self.rejects.written:
                    self.report.rejects_file = self.rejects.path
        return self.report

    # ---- one batch ---------------------------------------------------------------------------------
    def _batch(self, batch: Batch) -> None:
        report, pending = self.report, _Pending()
        report.read += len(batch.rows) + len(batch.bad)
        for bad in batch.bad:
            reason = f"line unreadable: {bad.problem}"
            message_id = generated_id(self.mapper.file, bad.line or 0, {"text": bad.text})
            self._reject(pending, bad.line, message_id, [Issue("$", reason)], None, {}, text=bad.text)
        for row in batch.rows:
            message, issues = self.mapper.message(row.values, row.line)
            if issues:
                self._reject(pending, row.line, str(message["messageId"]), issues, row.values, message)
            else:
                pending.rows.append((row, message))
        result = ingest_payload(
            "batch",
            {"batch": [message for _, message in pending.rows]},
            workspace=self.workspace,
            received_at=self.received_at,
            plan=self.plan,
            settings=self.settings,
        )
        for rejected in result.rejected:
            row, message = pending.rows[_index(rejected.path)]
            issues = _rooted(rejected.issues, rejected.path)
            self._reject(pending, row.line, str(message["messageId"]), issues, row.values, message)
        for letter in result.blocked:  # ingestion made their dead letters, to be replayed after a fix
            row = pending.row_of(letter.id)
            rule = letter.rule
            why = [
                Issue(r.path, f"blocked by the tracking plan (rule {rule!r}): {r.message}")
                for r in letter.reasons
            ]
            self._reject(pending, row.line, letter.id, why, row.values, None)
            report.blocked += 1
        report.warnings += sum(1 for accepted in result.accepted if accepted.warnings)
        self._append(pending, result.accepted, result.blocked)
        if self.rejects is not None:  # in file order, whichever check refused them
            for r in sorted(pending.rejections, key=lambda r: (r.line is None, r.line or 0)):
                self.rejects.write(r.line, r.message_id, r.reasons, r.row, r.text)

    def _append(self, pending: _Pending, accepted: list[Accepted], blocked: list[DeadLetter]) -> None:
        """Resolve and append the accepted messages with the batch's letters in one transaction."""
        refused: list[tuple[int, Issue]] = []
        if self.store is None:
            for index, item in enumerate(accepted):
                try:
                    identifiers_from_message(item.message)
                except IdentifierInvalid as exc:
                    refused.append((index, Issue(exc.where or "$", str(exc))))
            duplicates: list[int] = []
        else:
            letters = [*blocked, *pending.letters]
            intake = append_retrying(
                self.store,
                self.workspace,
                accepted,
                letters,
                rules=None,
                cache=None,
                received_at=self.received_at,
            )
            refused = [(index, issue) for index, r in intake.rejected for issue in _rooted(r.issues, r.path)]
            duplicates = intake.duplicates
        kept = len(pending.letters)
        for index, issue in refused:
            message = accepted[index].message
            row = pending.row_of(str(message["messageId"]))
            self._reject(pending, row.line, str(message["messageId"]), [issue], row.values, message)
        if len(pending.letters) > kept and self.store is not None:
            with self.store._write() as tx:  # identity resolution refused these inside the append
                for letter in pending.letters[kept:]:
                    add_letter(tx, letter)
        self.report.duplicates += len(duplicates)
        self.report.imported += len(accepted) - len(refused) - len(duplicates)
        if self._has_letters and self.store is not None:
            refused_ids = {str(accepted[index].message["messageId"]) for index, _ in refused}
            ids = [str(a.message["messageId"]) for a in accepted if a.message["messageId"] not in refused_ids]
            self._clear_letters(self.store, ids)

    def _clear_letters(self, store: SqlStore, ids: list[str]) -> None:
        """Discard the dead letters of these messages, now in the log."""
        found: list[str] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT message_id FROM dead_letters WHERE workspace = ? AND message_id IN ({marks})"
            found += [row[0] for row in store._query(query, [self.workspace, *chunk])]
        if found:
            SqlDeadLetters(store).discard(self.workspace, found)

    def _reject(
        self,
        pending: _Pending,
        line: int | None,
        message_id: str,
        issues: list[Issue],
        row: dict[str, Any] | None,
        message: dict[str, Any] | None,
        *,
        text: str = "",
    ) -> None:
        """Count a rejected row, note it for the rejects file and, when `message` is given (None: the
        plan blocked it and ingestion made its letter), add its dead letter to the batch's."""
        described = tuple(self._described(issue) for issue in issues)
        reasons = [str(issue) for issue in described]
        self.report.reject(line, "; ".join(reasons))
        pending.rejections.append(_Rejection(line, message_id, reasons, row, text))
        if message is not None:
            record = {"import": {"file": self.mapper.file, "line": line, "row": row, "text": text or None}}
            pending.letters.append(
                DeadLetter(
                    message_id, self.workspace, REJECTED_RULE, record, message, described, self.received_at
                )
            )

    def _described(self, issue: Issue) -> Issue:
        """An issue in the words of the file: with the column behind its path, when there is one."""
        column = self.mapper.column_of(issue.path)
        if column is None or f'column "{column}"' in issue.message:
            return issue
        return Issue(issue.path, f'column "{column}": {issue.message}')


def _index(path: str) -> int:
    """The batch index in a path such as `$.batch[12]`."""
    return int(path[len("$.batch[") : path.index("]")])


def _rooted(issues: tuple[Issue, ...], base: str) -> list[Issue]:
    """Issues with their paths rooted at the message (`$.event`) instead of the batch (`$.batch[3].event`)."""
    return [Issue("$" + issue.path[len(base) :], issue.message) for issue in issues]
