"""`rumbo serve`: the ingestion and management API, the worker and the timer scheduler in one process."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import uvicorn

from rumbo.delivery import load_settings
from rumbo.errors import RumboError
from rumbo.runtime.archiver import DEFAULT_INTERVAL
from rumbo.runtime.service import Service, ServiceConfig


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8088, show_default=True, help="Port to listen on.")
@click.option(
    "--journeys",
    "journeys",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Journey files or folders to run in every workspace (journeys as code); repeatable.",
)
@click.option(
    "--segments",
    "segments",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Segment definition files (YAML/JSON) live in every workspace next to its own; repeatable.",
)
@click.option(
    "--delivery",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Delivery settings (docs/delivery.md): run the outbox relay in this process and serve /delivery.",
)
@click.option("--no-worker", is_flag=True, help="Only accept events; let other processes work them.")
@click.option(
    "--archive",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="RUMBO_ARCHIVE",
    default=None,
    help="Analytics archive folder the exporter feeds and the analytics API reads "
    "[default: RUMBO_HOME/archive on SQLite; none on PostgreSQL].",
)
@click.option("--no-archive", is_flag=True, help="Do not export to the archive in this process.")
@click.option(
    "--archive-interval",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_INTERVAL,
    show_default=True,
    help="Seconds between the archive exporter's rounds.",
)
@click.option(
    "--no-identity-cache",
    is_flag=True,
    help="Look every identifier up in the database: needed while another process (a second serve on "
    "PostgreSQL, a `rumbo import` that merges customers) links identities too.",
)
@click.option("--log-level", default="info", show_default=True, help="debug, info, warning or error.")
def serve(
    host: str,
    port: int,
    journeys: tuple[Path, ...],
    segments: tuple[Path, ...],
    delivery: Path | None,
    no_worker: bool,
    archive: Path | None,
    no_archive: bool,
    archive_interval: float,
    no_identity_cache: bool,
    log_level: str,
) -> None:
    """Run rumbo: the Segment-compatible API on /v1, the management API on /api/v1, the worker that runs
    the journeys, and the timer scheduler. Stores data in SQLite in RUMBO_HOME (default ./rumbo-data), or in
    PostgreSQL when RUMBO_DATABASE_URL is set. On an empty database it creates the workspace `default` and
    prints its keys once."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(delivery) if delivery is not None else None
        service = Service(
            ServiceConfig(
                journeys=journeys,
                segments=segments,
                worker=not no_worker,
                delivery=settings,
                archive=archive,
                archive_export=not no_archive,
                archive_interval=archive_interval,
                identity_cache=not no_identity_cache,
            )
        )
    except RumboError as exc:  # a journey, segment or settings file with problems: say which, no traceback
        raise click.ClickException(str(exc)) from exc
    service.start()
    if service.created is not None:
        keys = service.created
        click.echo(f"Created workspace {keys.workspace!r}. Its keys are shown only now; keep them:")
        click.echo(f"  write key (SDKs, /v1/*):       {keys.write_key}")
        click.echo(f"  admin key (management API):    {keys.admin_key}")
        click.echo(f"  try: curl -u {keys.write_key}: http://{host}:{port}/v1/track \\")
        click.echo('         -H "Content-Type: application/json" -d \'{"userId":"u1","event":"signed_up"}\'')
        click.echo("  more workspaces: rumbo workspace create NAME")
    from rumbo.server.app import create_app

    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level=log_level, access_log=False)
    finally:
        service.stop()
