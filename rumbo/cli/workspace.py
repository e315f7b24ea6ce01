"""`rumbo workspace …`: create workspaces, list them, rotate their keys — on the machine running rumbo.

These commands open the store the way `rumbo serve` does (PostgreSQL when RUMBO_DATABASE_URL is set,
otherwise SQLite in RUMBO_HOME or ./rumbo-data) and upgrade its schema first if needed. Keys are printed
once: only their hashes are stored.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import click

from rumbo.manage.models import WORKSPACE_PATTERN
from rumbo.store import open_store
from rumbo.store.base import Role
from rumbo.store.catalog import Actor, CatalogNotFound, CatalogStore
from rumbo.store.errors import StoreError, WorkspaceExists
from rumbo.store.sql import SqlStore

_CLI = Actor("cli")


@contextmanager
def _catalog() -> Iterator[CatalogStore]:
    try:
        store = open_store()
        if not isinstance(store, SqlStore):  # both stores rumbo ships are SQL stores
            raise click.ClickException(f"the store {type(store).__name__} has no catalogue")
        try:
            store.upgrade()
            yield CatalogStore(store)
        finally:
            store.close()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def workspace() -> None:
    """Workspaces and their keys: create, list, rotate."""


@workspace.command()
@click.argument("name")
def create(name: str) -> None:
    """Create a workspace and print its write key and admin key (shown this once)."""
    if not re.match(WORKSPACE_PATTERN, name):
        raise click.BadParameter(
            "use letters, digits, '_', '.' and '-' (at most 63), starting with a letter or digit",
            param_hint="NAME",
        )
    with _catalog() as catalog:
        at = time.time()
        try:
            keys = catalog.store.create_workspace(name, at=at)
        except WorkspaceExists as exc:
            raise click.ClickException(
                f"workspace {name!r} already exists; `rumbo workspace rotate-keys {name}` gives it new keys"
            ) from exc
        catalog.record_workspace_created(name, actor=_CLI, at=at)
    click.echo(f"Workspace {name!r} created. Keep these keys now: they are not shown again.\n")
    click.echo(f"  write key: {keys.write_key}")
    click.echo(f"  admin key: {keys.admin_key}\n")
    click.echo(
        "The write key sends events (Segment or RudderStack SDKs: set it as the write key and point the"
    )
    click.echo("SDK's host at rumbo). The admin key manages the workspace over the API:")
    click.echo(f"  curl -H 'Authorization: Bearer {keys.admin_key}' http://127.0.0.1:8000/api/v1/journeys")


@workspace.command(name="list")
def list_workspaces() -> None:
    """List the workspaces in the store."""
    with _catalog() as catalog:
        names = catalog.store.workspaces()
    if not names:
        click.echo("no workspaces yet: `rumbo workspace create NAME` makes one")
    for name in names:
        click.echo(name)


@workspace.command(name="rotate-keys")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["write", "admin", "both"]),
    default="both",
    show_default=True,
    help="Which key to replace.",
)
def rotate_keys(name: str, role: str) -> None:
    """Give a workspace new keys; the old ones stop working at once. The new keys are shown this once."""
    roles: list[Role] = ["write", "admin"] if role == "both" else [cast(Role, role)]
    with _catalog() as catalog:
        try:
            new = {r: catalog.rotate_key(name, r, actor=_CLI, at=time.time()) for r in roles}
        except CatalogNotFound as exc:
            raise click.ClickException(f"no workspace {name!r}: `rumbo workspace list` shows them") from exc
    click.echo(f"New keys for workspace {name!r}; the old ones no longer work. Keep these now:\n")
    for r, key in new.items():
        click.echo(f"  {r} key: {key}")
