"""Fixtures for the management tests: a fresh catalogue on SQLite and PostgreSQL (the store tests' fixture
style: each test its own database or schema), and the management API served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from rumbo.manage import management_router
from rumbo.store.base import WorkspaceKeys
from rumbo.store.catalog import CatalogStore
from rumbo.store.sql import SqlStore
from rumbo.store.sqlite import SqliteStore
from tests.store.conftest import Factory, postgres_factory, store_factory

# (re-exported so pytest finds the store tests' fixtures here too)

__all__ = ["Factory", "postgres_factory", "store_factory"]


@pytest.fixture
def catalog(store_factory: Factory) -> CatalogStore:
    """A CatalogStore over a fresh, upgraded store (SQLite and PostgreSQL) with workspaces a and b."""
    store = store_factory()
    store.upgrade()
    store.create_workspace("a", at=1.0)
    store.create_workspace("b", at=1.0)
    return CatalogStore(store)


class ThreadStores:
    """One store per server thread, as `rumbo serve` keeps them."""

    def __init__(self, factory: Factory) -> None:
        self._factory = factory
        self._local = threading.local()

    def __call__(self) -> SqlStore:
        store: SqlStore | None = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self._factory()
        return store


@dataclass
class Api:
    """The management API on a real socket, and two workspaces with their keys."""

    url: str
    a: WorkspaceKeys
    b: WorkspaceKeys
    catalog: CatalogStore

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)


def serve(factory: Factory) -> Iterator[Api]:
    """Upgrade a fresh database, create workspaces a and b, and serve the router until the test ends."""
    setup = factory()
    setup.upgrade()
    a, b = setup.create_workspace("a", at=1.0), setup.create_workspace("b", at=1.0)
    app = FastAPI()
    app.include_router(management_router(ThreadStores(factory)))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Api(f"http://127.0.0.1:{port}", a, b, CatalogStore(setup))
    finally:
        server.should_exit = True
        thread.join()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API on SQLite."""
    yield from serve(lambda: SqliteStore(tmp_path / "rumbo.db"))


@pytest.fixture(params=["sqlite", "postgres"])
def any_api(request: pytest.FixtureRequest, store_factory: Factory) -> Iterator[Api]:
    """The API on SQLite and on PostgreSQL."""
    yield from serve(store_factory)


def journey_text(name: str = "welcome", *, priority: int = 50, extra_node: str = "") -> str:
    """A small valid journey document."""
    return (
        f"journey: {name}\n"
        f"priority: {priority}\n"
        "events:\n  signed_up: {}\n"
        "entry: {event: signed_up}\n"
        "nodes:\n"
        "  hello:\n    send: {channel: email, template: welcome}\n    next: wait\n"
        "  wait:\n    wait: {for: 1d}\n    next: done\n"
        f"{extra_node}"
        "  done:\n    exit: {}\n"
    )
