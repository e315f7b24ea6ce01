"""Options every `rumbo analyze` command shares, in one place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from rumbo.analytics.archive import Archive, default_archive_path
from rumbo.analytics.engines import ENGINES, QueryEngine, open_engine
from rumbo.analytics.output import FORMATS
from rumbo.records import FIELDS

F = TypeVar("F", bound=Callable[..., Any])


def common_options(chart_help: str | None) -> Callable[[F], F]:
    """--archive, --engine, --format and, when the command draws one, --chart."""

    def decorate(command: F) -> F:
        if chart_help is not None:
            command = click.option(
                "--chart", type=click.Path(dir_okay=False, path_type=Path), default=None, help=chart_help
            )(command)
        command = click.option(
            "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
        )(command)
        command = click.option(
            "--engine",
            type=click.Choice(ENGINES),
            default="duckdb",
            show_default=True,
            help="duckdb in process; clickhouse runs the same SQL transpiled (on chDB here).",
        )(command)
        return click.option(
            "--archive",
            "archive_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Archive folder [default: $RUMBO_HOME/archive].",
        )(command)

    return decorate


def engine_for(archive_dir: Path | None, engine: str) -> QueryEngine:
    """The engine over the archive folder given, or the default archive."""
    return open_engine(Archive(archive_dir if archive_dir is not None else default_archive_path()), engine)


def empty_notes(rows: int, records: str, archive_dir: Path | None) -> list[str]:
    """A note saying why a table is empty, so an empty archive is not mistaken for an empty answer."""
    if rows:
        return []
    where = archive_dir if archive_dir is not None else default_archive_path()
    # The folder `rumbo serve` exports to holds one archive per workspace: say which to point at.
    workspaces = sorted(
        folder.name
        for folder in (where.iterdir() if where.is_dir() else ())
        if folder.is_dir() and any((folder / kind).is_dir() for kind in FIELDS)
    )
    if workspaces:
        return [
            f"nothing found: {where} holds the archives of workspace(s) {', '.join(workspaces)} — "
            f"give --archive {where / workspaces[0]} (or another workspace's folder)"
        ]
    return [
        f"nothing found: no matching {records} in {where} — run journeys, import files with "
        "`rumbo analyze import`, or point --archive at another folder"
    ]
