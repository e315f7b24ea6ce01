"""Small builders shared by the engine and journey tests."""

from __future__ import annotations

import textwrap
from typing import Any

from rumbo.engine.inputs import EventInput
from rumbo.engine.state import Customer
from rumbo.journey.build import build_journey
from rumbo.journey.document import parse_document
from rumbo.journey.model import Journey

T0 = 1_772_438_400.0  # 2026-03-02 08:00 UTC, a Monday
HOUR = 3600.0
DAY = 86400.0


def journey(text: str, version: int = 1) -> Journey:
    return build_journey(parse_document(textwrap.dedent(text), "test.yaml"), version=version)


def event(name: str, at: float, message_id: str | None = None, **properties: Any) -> EventInput:
    mid = message_id or f"{name}@{at:.0f}"
    return EventInput(
        mid, name, at, {"type": "track", "event": name, "messageId": mid, "properties": properties}
    )


def reachable(customer_id: str = "u1", **traits: Any) -> Customer:
    """A customer who can be reached on every channel and consented to all of them."""
    base = {
        "email": f"{customer_id}@example.com",
        "phone": "+34600000000",
        "push_token": "tok",
        "timezone": "UTC",
    }
    return Customer(customer_id, {**base, **traits}, {"email": True, "sms": True, "push": True})
