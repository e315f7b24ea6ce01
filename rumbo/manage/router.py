"""The management API as one FastAPI router, mounted by `rumbo serve` (or any app) under /api/v1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from rumbo.manage.admin_routes import add_admin_routes
from rumbo.manage.auth import admin_workspace
from rumbo.manage.catalog_routes import add_catalog_routes
from rumbo.manage.journeys import add_journey_routes
from rumbo.manage.models import ErrorOut
from rumbo.manage.routing import ManageRoute
from rumbo.store.catalog import CatalogStore
from rumbo.store.sql import SqlStore

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": what}
    for status, what in (
        (401, "no key, or a key no workspace has"),
        (403, "a write key, where an admin key is needed"),
        (404, "the object named does not exist in this workspace"),
        (409, "a conflict: it exists already, changed meanwhile, or is in the wrong state"),
        (422, "the request has problems, each listed with its JSON path and what to do"),
        (503, "the database is busy or unreachable; retry"),
    )
}


def management_router(open_store: Callable[[], SqlStore]) -> APIRouter:
    """Every management route under /api/v1. `open_store()` returns a store for the calling thread;
    routes authenticate with the workspace's admin key (Bearer, or HTTP Basic with the key as user)."""
    router = APIRouter(prefix="/api/v1", route_class=ManageRoute, responses=_ERRORS)

    def catalog() -> CatalogStore:
        return CatalogStore(open_store())

    caller = admin_workspace(open_store)
    add_journey_routes(router, catalog, caller)
    add_catalog_routes(router, catalog, caller)
    add_admin_routes(router, catalog, caller)
    return router
