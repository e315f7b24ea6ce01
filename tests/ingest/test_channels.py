"""The channel rule: said outright, else the campaign's medium, else the surface, else other."""

from __future__ import annotations

from typing import Any

import pytest

from rumbo.ingest.channels import channel_of


@pytest.mark.parametrize(
    ("message", "channel"),
    [
        # 1. Said outright, in rumbo's names or common spellings; context.channel before the message's own.
        ({"type": "track", "context": {"channel": "call-center"}}, "call_centre"),
        ({"type": "track", "context": {"channel": "POS"}}, "store"),
        ({"type": "track", "channel": "sms"}, "sms"),
        ({"type": "track", "channel": "browser"}, "web"),
        ({"type": "track", "channel": "mobile"}, "app"),
        ({"type": "track", "channel": "WhatsApp"}, "chat"),
        ({"type": "page", "context": {"channel": "store"}, "channel": "browser"}, "store"),
        # ...and it wins over the campaign: a store visit a newsletter brought is still a store visit.
        ({"type": "track", "context": {"channel": "store", "campaign": {"medium": "email"}}}, "store"),
        # RudderStack's `server` names no channel; nor does an unknown word.
        ({"type": "track", "channel": "server"}, "other"),
        ({"type": "track", "context": {"channel": "carrier pigeon"}}, "other"),
        # 2. The UTM medium, grouped as Google Analytics' default channel grouping does.
        ({"type": "page", "context": {"campaign": {"medium": "cpc", "source": "google"}}}, "paid"),
        ({"type": "page", "context": {"campaign": {"medium": "Email"}}}, "email"),
        ({"type": "page", "context": {"campaign": {"medium": "social-network"}}}, "social"),
        ({"type": "screen", "context": {"campaign": {"medium": "push"}}}, "push"),
        ({"type": "page", "context": {"campaign": {"medium": "display"}}}, "paid"),
        # An unknown medium says nothing: the surface decides.
        ({"type": "page", "context": {"campaign": {"medium": "referral"}}}, "web"),
        # 3. The surface.
        ({"type": "screen"}, "app"),
        ({"type": "track", "context": {"app": {"name": "Shop", "version": "3.1"}}}, "app"),
        ({"type": "track", "context": {"library": {"name": "analytics-ios", "version": "4.1"}}}, "app"),
        ({"type": "track", "context": {"library": {"name": "analytics.js", "version": "4.1"}}}, "web"),
        ({"type": "track", "context": {"page": {"url": "https://shop.example/cart"}}}, "web"),
        ({"type": "track", "context": {"userAgent": "Mozilla/5.0"}}, "web"),
        ({"type": "page"}, "web"),
        # 4. Nothing to go on: a server-side track from the Python SDK.
        (
            {"type": "track", "context": {"library": {"name": "analytics-python", "version": "2.3.3"}}},
            "other",
        ),
        ({"type": "identify", "context": "not an object"}, "other"),
    ],
)
def test_channel_rule(message: dict[str, Any], channel: str) -> None:
    assert channel_of(message) == channel
