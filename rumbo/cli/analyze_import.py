"""`rumbo analyze import`: bring a CSV, Parquet or JSON-lines file rumbo did not collect into the archive."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from rumbo.analytics.archive import Archive, default_archive_path
from rumbo.errors import RumboError
from rumbo.records import FIELDS


@click.command("import")
@click.argument("kind", type=click.Choice(list(FIELDS)))
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "renames",
    multiple=True,
    metavar="SOURCE=FIELD",
    help="Rename a column of the file to an archive field, e.g. --map order_date=timestamp; repeatable.",
)
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Archive folder [default: $RUMBO_HOME/archive].",
)
def import_file(kind: str, source: Path, renames: tuple[str, ...], archive_dir: Path | None) -> None:
    """Import SOURCE as records of KIND (events, or conversions, deliveries, ...) and say what was done.

    For events, columns that are not Segment fields are kept in properties; missing fields get defaults
    (customer from userId or anonymousId, type "track", a messageId derived from the row).
    """
    mapping: dict[str, str] = {}
    for rename in renames:
        column, sep, field = rename.partition("=")
        if not sep or not column or not field:
            raise click.BadParameter(
                f"{rename!r} is not SOURCE=FIELD, e.g. order_date=timestamp", param_hint="--map"
            )
        mapping[column] = field
    try:
        archive = Archive(archive_dir if archive_dir is not None else default_archive_path())
        report = archive.import_file(kind, source, mapping)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
