"""`rumbo import FILE`: store purchases, call-centre contacts, CRM exports into the event log.

Not to be confused with `rumbo analyze import`, which adds a file to the analytics archive only: this
command feeds the runtime, so identities resolve and journeys react as to events sent over HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from rumbo.errors import RumboError
from rumbo.ingest.files import FORMATS, ColumnMapping, ImportReport, load_mapping, with_options
from rumbo.ingest.files.readers import Format
from rumbo.runtime.importer import BATCH_ROWS, Importer, open_import
from rumbo.store import open_store
from rumbo.store.errors import StoreError
from rumbo.store.sql import SqlStore


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workspace", default="default", show_default=True, help="The workspace to import into.")
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A YAML column mapping (docs/import.md): which column fills which message field, as what type.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD[:TYPE]",
    help="Map one column, e.g. total=properties.revenue:number; repeatable; wins over --mapping.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Give every row the same value, e.g. context.channel=store; repeatable.",
)
@click.option("--type", "call", type=click.Choice(["track", "identify"]), help="The call each row makes.")
@click.option("--event", help="The event name of every row (track), when no column holds one.")
@click.option("--timezone", help="IANA time zone of times written without an offset (default UTC).")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), help="The file's format (default: from its name)."
)
@click.option("--dry-run", is_flag=True, help="Check every row and report, writing nothing to the database.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where rejected rows go (.csv or .jsonl) [default: NAME.rejects.csv|jsonl here].",
)
@click.option("--batch-size", default=BATCH_ROWS, show_default=True, help="Rows per transaction.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_file(
    file: Path,
    workspace: str,
    mapping_file: Path | None,
    maps: tuple[str, ...],
    sets: tuple[str, ...],
    call: str | None,
    event: str | None,
    timezone: str | None,
    fmt: str | None,
    dry_run: bool,
    rejects: Path | None,
    batch_size: int,
    as_json: bool,
) -> None:
    """Import the rows of FILE (CSV, JSON lines or Parquet) as events into the runtime's event log.

    Every row becomes a Segment message and goes through the same checks, tracking plan, deduplication by
    messageId and identity resolution as events sent over HTTP, so journeys react to it. Re-importing a
    file stores nothing twice. Rejected rows are listed by reason with their lines, written to a rejects
    file, and kept as dead letters (`rumbo deadletters`). The analytics archive has its own importer:
    `rumbo analyze import`.
    """
    if batch_size < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch-size")
    try:
        mapping = load_mapping(mapping_file) if mapping_file is not None else ColumnMapping()
        mapping = with_options(mapping, maps=maps, sets=sets, call=call, event=event, timezone=timezone)
        store = open_store()
        assert isinstance(store, SqlStore)
        try:
            store.upgrade()
            importer = open_import(
                store,
                file,
                mapping,
                workspace=workspace,
                fmt=cast(Format | None, fmt),
                dry_run=dry_run,
                rejects=rejects,
                batch_rows=batch_size,
            )
            report = _run(importer, quiet=as_json)
        finally:
            store.close()
    except (RumboError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        _print(report)
    if report.stopped is not None:
        raise click.ClickException(report.stopped)


def _run(importer: Importer, *, quiet: bool) -> ImportReport:
    """Run the import under a progress bar on standard error: rows, rows/s, rejected."""
    console = Console(stderr=True)
    columns = (
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[read]:>10,} rows  {task.fields[rate]:>8,.0f} rows/s"),
        TextColumn("{task.fields[rejected]:,} rejected"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=quiet or not console.is_terminal) as bar:
        task = bar.add_task("import", total=1.0, read=0, rate=0.0, rejected=0)

        def show(report: ImportReport, done: float) -> None:
            bar.update(task, completed=done, read=report.read, rate=report.rate, rejected=report.rejected)

        report = importer.run(show)
        show(report, 1.0)
    return report


def _print(report: ImportReport) -> None:
    console = Console(soft_wrap=True)  # lines whole, for reading and for grep alike
    what = "would be imported (dry run: nothing written)" if report.dry_run else "imported"
    console.print(f"[bold]{report.file}[/] ({report.format}) into workspace {report.workspace!r}")
    console.print(
        f"{report.read:,} rows read in {report.seconds:.1f}s ({report.rate:,.0f} rows/s): "
        f"{report.imported:,} {what}, "
        + ("duplicates not checked" if report.dry_run else f"{report.duplicates:,} already in the log")
        + f", {report.rejected:,} rejected"
        + (f" ({report.blocked:,} blocked by the tracking plan)" if report.blocked else "")
    )
    if report.warnings:
        console.print(f"{report.warnings:,} imported rows break a tracking-plan rule in warn mode")
    if report.folded:
        console.print(f"columns kept in properties or traits as read: {', '.join(report.folded)}")
    if report.ignored:
        console.print(f"columns ignored: {', '.join(report.ignored)}")
    for note in report.notes:
        console.print(note)
    if report.reasons:
        console.print("[bold]rejected rows by reason[/] (rows: reason — lines)", highlight=False)
        for reason in sorted(report.reasons.values(), key=lambda r: -r.count):
            lines = ", ".join(map(str, reason.lines)) + (", …" if reason.count > len(reason.lines) else "")
            where = f"line{'s' if reason.count > 1 else ''} {lines}"
            console.print(f"{reason.count:>8,}: {reason.example} — {where}", markup=False, highlight=False)
    if report.rejects_file is not None:
        console.print(
            f"rejected rows with their reasons: {report.rejects_file} — fix them and import that file with "
            "the same mapping; `rumbo deadletters` lists them too",
            markup=False,
        )
