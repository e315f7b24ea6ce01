"""`rumbo archive`: copy the store's events and records to the analytics archive, and see how far it got."""

from __future__ import annotations

import contextlib
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from rumbo.errors import RumboError
from rumbo.runtime.archiver import DEFAULT_BATCH, DEFAULT_INTERVAL, ExportReport, archive_root
from rumbo.store.archive_feed import ArchiveFeed
from rumbo.store.errors import StoreError
from rumbo.store.sql import SqlStore

_DATABASE_HELP = "PostgreSQL URL; default RUMBO_DATABASE_URL, else SQLite in RUMBO_HOME."


def _connect(database: str | None, *, upgrade: bool = False) -> SqlStore:
    from rumbo.store import open_store

    store = open_store(database)
    assert isinstance(store, SqlStore)
    if upgrade:
        store.upgrade()
    return store


@click.group()
def archive() -> None:
    """The analytics archive the runtime feeds: export the store's events and records as Parquet."""


@archive.command("export")
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Archive folder (one sub-folder per workspace) [default: RUMBO_ARCHIVE, else RUMBO_HOME/archive "
    "on SQLite; required on PostgreSQL].",
)
@click.option("--database", default=None, help=_DATABASE_HELP)
@click.option("--workspace", "workspaces", multiple=True, help="Only this workspace (repeat); default: all.")
@click.option("--once", is_flag=True, help="Export what is there now, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_INTERVAL,
    show_default=True,
    help="Seconds between rounds when running until stopped.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Rows per batch (a batch writes one file per day).",
)
def export(
    archive_dir: Path | None,
    database: str | None,
    workspaces: tuple[str, ...],
    once: bool,
    interval: float,
    batch: int,
) -> None:
    """Append every event, transition, decision, suppression, conversion and delivery outcome the store holds
    and the archive does not yet, to <archive>/<workspace>/ — exactly once, from durable cursors. `rumbo
    serve` runs the same exporter in a thread; run this where serve does not (PostgreSQL, say)."""
    from rumbo.runtime.archiver import Archiver

    root = archive_root(archive_dir, database, None)
    if root is None:
        raise click.UsageError("on PostgreSQL, give --archive DIR (or set RUMBO_ARCHIVE)")
    try:
        store = _connect(database, upgrade=True)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    exporter = Archiver(store, root, batch=batch)
    try:
        if once:
            report = exporter.export(list(workspaces) or None)
            _print(report, root)
            if report.errors:
                raise click.ClickException(f"{len(report.errors)} kind(s) could not be exported; see above")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        click.echo(f"exporting to {root} every {interval:g} s; stop with Ctrl-C", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            exporter.run(stop, interval)
    except (RumboError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def _print(report: ExportReport, root: Path) -> None:
    for kind in report.kinds:
        if kind.error is not None:
            click.echo(f"{kind.workspace}/{kind.kind}: {kind.error}", err=True)
        elif kind.held_by is not None:
            click.echo(f"{kind.workspace}/{kind.kind}: skipped, another exporter ({kind.held_by}) holds it")
        elif kind.rows:
            click.echo(f"{kind.workspace}/{kind.kind}: {kind.rows:,} rows in {kind.files} files")
    click.echo(f"{report.rows:,} rows exported to {root}")


@archive.command("status")
@click.option("--database", default=None, help=_DATABASE_HELP)
@click.option("--workspace", default=None, help="Only this workspace.")
def status(database: str | None, workspace: str | None) -> None:
    """How far each workspace's kinds have been exported, and which exporter holds them."""
    try:
        store = _connect(database)
        try:
            cursors = ArchiveFeed(store).cursors(workspace)
        finally:
            store.close()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if not cursors:
        click.echo("nothing exported yet: run `rumbo archive export` or `rumbo serve`")
        return
    table = Table(title="Archive cursors", title_justify="left", header_style="bold")
    for column in ("workspace", "kind", "rows", "position", "pending", "held by", "updated"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for c in cursors:
        updated = datetime.fromtimestamp(c.updated_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        pending = "" if c.pending is None else str(c.pending)
        table.add_row(
            c.workspace, c.kind, f"{c.exported:,}", str(c.position), pending, c.owner or "", updated
        )
    Console(width=160).print(table)
