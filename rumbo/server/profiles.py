"""Profile endpoints: the 360 view and consent changes, for a workspace's admin key.

They authenticate and answer errors exactly as the management API does (rumbo/manage).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations when they are declared,
# and the `Who` dependency alias is built inside the function that declares them.

import time
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from rumbo.manage import Caller, admin_workspace
from rumbo.manage.errors import NotFound
from rumbo.manage.routing import ManageRoute
from rumbo.runtime.intake import iso
from rumbo.runtime.profile import find_customer, profile_view
from rumbo.runtime.service import Service
from rumbo.store.base import NewEvent


class ConsentChangeBody(BaseModel):
    channel: str = Field(description="email, sms, push, inbox, ...")
    topic: str | None = Field(default=None, description="a subscription topic, e.g. newsletter")
    granted: bool
    source: str = Field(default="api", description="where the change came from, kept in the history")


def profile_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["profiles"], route_class=ManageRoute)
    Who = Annotated[Caller, Depends(admin_workspace(service.open_store))]

    def customer_or_404(workspace: str, who: str) -> str:
        customer = find_customer(service.open_store(), workspace, who)
        if customer is None:
            raise NotFound(f"no customer {who!r} in this workspace (try a user id or email:<address>)")
        return customer

    @router.get("/profiles/{who}", summary="The 360 view of a customer, by customer id or identifier")
    def get_profile(who: str, caller: Who, limit: int = 100) -> dict[str, Any]:
        workspace = caller.workspace
        customer = customer_or_404(workspace, who)
        return profile_view(service.open_store(), workspace, customer, limit=max(1, min(limit, 1000)))

    @router.post("/profiles/{who}/consent", summary="Grant or withdraw consent on a channel or topic")
    def change_consent(who: str, change: ConsentChangeBody, caller: Who) -> dict[str, Any]:
        workspace = caller.workspace
        customer = customer_or_404(workspace, who)
        now = time.time()
        message_id = f"consent-{uuid.uuid4().hex}"
        properties: dict[str, Any] = {
            "channel": change.channel,
            "granted": change.granted,
            "source": change.source,
        }
        if change.topic:
            properties["topic"] = change.topic
        message = {
            "type": "track",
            "event": "consent_changed",
            "messageId": message_id,
            "timestamp": iso(now),
            "properties": properties,
            "context": {"channel": "other", "library": {"name": "rumbo-api"}},
        }
        body = orjson.dumps(message)
        service.open_store().append_events(workspace, [NewEvent(message_id, customer, now, now, body)])
        return {"customer": customer, "messageId": message_id, "accepted": True}

    return router
