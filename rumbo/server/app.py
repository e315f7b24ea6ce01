"""The HTTP application `rumbo serve` runs: ingestion, profiles, and health, with one OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

import rumbo
from rumbo.delivery.router import delivery_router
from rumbo.manage import management_router
from rumbo.runtime.service import Service
from rumbo.server.analytics import analytics_router
from rumbo.server.ingest import ingest_router
from rumbo.server.keys import KeyCache
from rumbo.server.profiles import profile_router


def create_app(service: Service) -> FastAPI:
    app = FastAPI(
        title="rumbo",
        version=rumbo.__version__,
        description="Segment-compatible ingestion and the management API of a rumbo workspace.",
    )
    keys = KeyCache(service.open_store)
    app.include_router(ingest_router(service, keys))
    app.include_router(profile_router(service))
    app.include_router(analytics_router(service))
    app.include_router(management_router(service.open_store))
    delivery = service.config.delivery
    if delivery is not None:
        # Opens, clicks, bounces, preferences and the inbox; the relay's base_url points here. The router
        # opens and closes a store per request, so it gets new connections, not the threads' shared ones.
        app.include_router(delivery_router(service.connect, delivery.secret), prefix="/delivery")

    @app.get("/health", tags=["health"], summary="Is the process up, and how far has the worker got")
    def health() -> dict[str, Any]:
        return {"status": "ok", "processed": service.processed}

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return Response("rumbo: see /docs for the API\n", media_type="text/plain")

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["writeKey"] = {
                "type": "http",
                "scheme": "basic",
                "description": "the write key as user name, empty password (as Segment's SDKs send it)",
            }
            schemes["adminKey"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "the workspace's admin key",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
