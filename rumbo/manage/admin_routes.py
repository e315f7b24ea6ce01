"""Routes for the workspace itself: creating one (instance token), its keys, its settings, its audit log."""

# No `from __future__ import annotations` here: FastAPI reads each route's annotations when it is
# declared, and the `Who`/`Store` dependency aliases are built inside the function that declares them.

import time
import zoneinfo
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from rumbo.manage.auth import Caller, instance_token
from rumbo.manage.errors import Conflict, Invalid, ProblemAt
from rumbo.manage.models import (
    NAME_PATTERN,
    AuditOut,
    AuditPage,
    RotatedKeyOut,
    SettingsIn,
    WorkspaceIn,
    WorkspaceKeysOut,
    WorkspaceOut,
)
from rumbo.store.catalog import Actor, CatalogStore, key_id
from rumbo.store.errors import WorkspaceExists

AUDIT_KINDS = Literal[
    "journey", "template", "segment", "offer", "tracking_plan", "settings", "key", "workspace", "traits"
]


def add_admin_routes(
    router: APIRouter, catalog: Callable[[], CatalogStore], caller: Callable[..., Caller]
) -> None:
    Who = Annotated[Caller, Depends(caller)]
    Store = Annotated[CatalogStore, Depends(catalog)]

    @router.post("/workspaces", response_model=WorkspaceKeysOut, status_code=201, tags=["workspaces"])
    def create_workspace(
        *, body: WorkspaceIn, actor: Annotated[Actor, Depends(instance_token)], store: Store
    ) -> WorkspaceKeysOut:
        """Create a workspace and return its write and admin keys, shown this once. Needs the instance
        token (`Authorization: Bearer $RUMBO_ADMIN_TOKEN`); without RUMBO_ADMIN_TOKEN set on the server,
        use `rumbo workspace create NAME` there instead."""
        at = time.time()
        try:
            keys = store.store.create_workspace(body.name, at=at)
        except WorkspaceExists as exc:
            raise Conflict(f"workspace {body.name!r} already exists: pick another name") from exc
        store.record_workspace_created(body.name, actor=actor, at=at)
        return WorkspaceKeysOut(workspace=keys.workspace, write_key=keys.write_key, admin_key=keys.admin_key)

    @router.get("/workspace", response_model=WorkspaceOut, tags=["workspaces"])
    def get_workspace(*, who: Who, store: Store) -> WorkspaceOut:
        """The workspace the admin key belongs to, and its catalogue revision."""
        return WorkspaceOut(workspace=who.workspace, revision=store.revision(who.workspace))

    @router.post("/keys/{role}/rotate", response_model=RotatedKeyOut, tags=["keys"])
    def rotate_key(
        *,
        role: Annotated[Literal["write", "admin"], Path(description="which key to replace")],
        who: Who,
        store: Store,
    ) -> RotatedKeyOut:
        """Replace the workspace's write or admin key. The new key is shown once; the old one stops working
        at once (rotating the admin key you called with ends that key too: keep the new one)."""
        key = store.rotate_key(who.workspace, role, actor=who.actor, at=time.time())
        return RotatedKeyOut(workspace=who.workspace, role=role, key=key, key_id=key_id(key))

    @router.get("/settings", response_model=SettingsIn, response_model_exclude_unset=True, tags=["settings"])
    def get_settings(*, who: Who, store: Store) -> Any:
        """The workspace's send-gate settings; fields not set keep rumbo's defaults."""
        return SettingsIn.model_validate(store.policy_settings(who.workspace))

    @router.put("/settings", response_model=SettingsIn, response_model_exclude_unset=True, tags=["settings"])
    def put_settings(*, body: SettingsIn, who: Who, store: Store) -> Any:
        """Replace the send-gate settings: caps, quiet hours, time zone, holdout, channel order, on_cap."""
        if body.timezone is not None:
            try:
                zoneinfo.ZoneInfo(body.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                problem = ProblemAt(
                    "$.timezone", f"{body.timezone!r} is not an IANA time zone", "e.g. Europe/Madrid"
                )
                raise Invalid("the settings have problems", [problem]) from exc
        settings = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
        store.put_settings(who.workspace, settings, actor=who.actor, at=time.time())
        return body

    @router.get("/audit", response_model=AuditPage, tags=["audit"])
    def audit_log(
        *,
        kind: Annotated[AUDIT_KINDS | None, Query(description="only changes to this kind of object")] = None,
        name: Annotated[
            str | None, Query(pattern=NAME_PATTERN, description="only changes to this object")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before: Annotated[int | None, Query(ge=1, le=2**62, description="entries older than this id")] = None,
        who: Who,
        store: Store,
    ) -> AuditPage:
        """Every change to the workspace's catalogue and keys, newest first: who (role and key id), when,
        what changed."""
        entries = store.audit(who.workspace, kind=kind, name=name, limit=limit + 1, before=before)
        items = [
            AuditOut(
                id=e.id, at=e.at, actor_role=e.actor_role, actor_key=e.actor_key, kind=e.kind, name=e.name,
                action=e.action, detail=e.detail,
            )
            for e in entries[:limit]
        ]  # fmt: skip
        return AuditPage(items=items, next_before=items[-1].id if len(entries) > limit else None)
