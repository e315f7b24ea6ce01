"""Profile endpoints: the 360 view and consent changes, for a workspace's admin key."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from rumbo.runtime.intake import iso
from rumbo.runtime.profile import find_customer, profile_view
from rumbo.runtime.service import Service
from rumbo.server.auth import AdminWorkspace
from rumbo.store.base import NewEvent


class ConsentChangeBody(BaseModel):
    channel: str = Field(description="email, sms, push, inbox, ...")
    topic: str | None = Field(default=None, description="a subscription topic, e.g. newsletter")
    granted: bool
    source: str = Field(default="api", description="where the change came from, kept in the history")


def profile_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["profiles"])

    def customer_or_404(workspace: str, who: str) -> str:
        customer = find_customer(service.open_store(), workspace, who)
        if customer is None:
            raise HTTPException(
                404, f"no customer {who!r} in this workspace (try a user id or email:<address>)"
            )
        return customer

    @router.get("/profiles/{who}", summary="The 360 view of a customer, by customer id or identifier")
    def get_profile(who: str, workspace: AdminWorkspace, limit: int = 100) -> dict[str, Any]:
        customer = customer_or_404(workspace, who)
        return profile_view(service.open_store(), workspace, customer, limit=max(1, min(limit, 1000)))

    @router.post("/profiles/{who}/consent", summary="Grant or withdraw consent on a channel or topic")
    def change_consent(who: str, change: ConsentChangeBody, workspace: AdminWorkspace) -> dict[str, Any]:
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
