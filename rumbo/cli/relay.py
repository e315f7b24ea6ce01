"""`rumbo relay`: run the outbox relay on its own, delivering sends until stopped."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from rumbo.delivery.errors import DeliveryError
from rumbo.delivery.relay import Relay
from rumbo.delivery.settings import load_settings
from rumbo.store.errors import StoreError


@click.command()
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The delivery settings file (YAML; see docs/delivery.md).",
)
@click.option(
    "--workspace", "workspaces", multiple=True, help="A workspace to deliver for (repeat); default: all."
)
@click.option(
    "--database", default=None, help="PostgreSQL URL; default RUMBO_DATABASE_URL, else SQLite in RUMBO_HOME."
)
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
def relay(settings_file: Path, workspaces: tuple[str, ...], database: str | None, once: bool) -> None:
    """Deliver the outbox: render, send over each channel, retry, record outcomes."""
    from rumbo.store import open_store
    from rumbo.store.sql import SqlStore

    def connect() -> SqlStore:
        store = open_store(database)
        assert isinstance(store, SqlStore)
        return store

    try:
        settings = load_settings(settings_file)
        first = connect()
        names = list(workspaces) or first.workspaces()
        first.close()
        runner = Relay(connect, settings, names)
    except (DeliveryError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stats = runner.run_once() if once else runner.run(stop)
    except KeyboardInterrupt:
        stats = None
    finally:
        runner.close()
    if stats is not None:
        click.echo(
            f"sent {stats.sent}, retrying {stats.retried}, failed {stats.failed}, deferred {stats.deferred}"
            f" (resent in doubt {stats.resent_in_doubt})"
        )
