"""Delivery outcomes as events for the log and Delivery records for analytics.

Every outcome — sent, delivered, opened, clicked, bounced, complained, unsubscribed, failed — goes back
into the event log as a track event the journey catalogue knows (`message_sent`, `message_opened`, ...,
`unsubscribed`), so journeys can wait for it and analytics can count it. Its messageId is
`delivery:<send key>:<status>`: a second open of the same message, or a provider reporting the same
bounce twice, is deduplicated by the log like any repeated event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from rumbo.records import Delivery, DeliveryStatus
from rumbo.store.base import NewEvent
from rumbo.store.deliveries import SendInfo

EVENT_NAMES: dict[DeliveryStatus, str] = {
    "queued": "message_queued",
    "sent": "message_sent",
    "delivered": "message_delivered",
    "opened": "message_opened",
    "clicked": "message_clicked",
    "bounced": "message_bounced",
    "complained": "message_complained",
    "unsubscribed": "unsubscribed",
    "failed": "message_failed",
}

# Channels whose outcome events carry a normalised context channel of their own; the rest are "other".
_CONTEXT_CHANNELS = {"email", "sms", "push", "webhook", "inbox"}


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def outcome_event(
    workspace: str,
    send: SendInfo,
    status: DeliveryStatus,
    *,
    at: float,
    received_at: float,
    properties: dict[str, Any] | None = None,
    message_id: str | None = None,
) -> NewEvent:
    """The event for one outcome of one send, as a normalised Segment track message."""
    mid = message_id or f"delivery:{send.key}:{status}"
    body = {
        "type": "track",
        "event": EVENT_NAMES[status],
        "messageId": mid,
        "timestamp": iso(at),
        "properties": {
            "send": send.key,
            "journey": send.journey,
            "version": send.version,
            "run": send.run,
            "node": send.node,
            "template": send.template,
            "channel": send.channel,
            "variant": send.variant,
            **(properties or {}),
        },
        "context": {"channel": send.channel if send.channel in _CONTEXT_CHANNELS else "other"},
        "userId": None,
        "anonymousId": None,
        "workspace": workspace,
        "customer": send.customer,
    }
    return NewEvent(mid, send.customer, at, received_at, orjson.dumps(body))


def delivery_record(workspace: str, send: SendInfo, status: DeliveryStatus, at: float) -> Delivery:
    return Delivery(
        workspace=workspace,
        customer=send.customer,
        journey=send.journey,
        version=send.version,
        run=send.run,
        node=send.node,
        send=send.key,
        channel=send.channel,
        template=send.template,
        variant=send.variant,
        status=status,
        at=at,
    )


def pause_targets(send: SendInfo) -> tuple[str, str]:
    """What a send's bad outcomes count against: its channel, and its template."""
    return (send.channel, f"template:{send.template}")
