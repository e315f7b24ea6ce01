"""Fixtures: stores on SQLite and PostgreSQL (the store tests' own factories), a workspace, send orders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rumbo.store.sql import SqlStore
from tests.store.conftest import Factory, _postgres_factory, _sqlite_factory


@pytest.fixture(params=["sqlite", "postgres"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Opens connections to one fresh database, upgraded, with workspace "acme"; one call per connection."""
    factories = _sqlite_factory(tmp_path / "rumbo.db") if request.param == "sqlite" else _postgres_factory()
    make = next(factories)
    first = make()
    first.upgrade()
    first.create_workspace("acme", at=0.0)
    yield make
    for _ in factories:
        pass


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[Factory]:
    factories = _sqlite_factory(tmp_path / "rumbo.db")
    make = next(factories)
    first = make()
    first.upgrade()
    first.create_workspace("acme", at=0.0)
    yield make
    for _ in factories:
        pass


@pytest.fixture
def store(store_factory: Factory) -> SqlStore:
    return store_factory()
