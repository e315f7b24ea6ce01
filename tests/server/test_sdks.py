"""The official Segment and RudderStack SDKs send to rumbo by changing only their host."""

from __future__ import annotations

import httpx
import rudderstack.analytics.client as rudder
import segment.analytics.client as segment

from tests.server.conftest import Server


def _profile(server: Server, client: httpx.Client, who: str) -> dict[str, object]:
    answer = client.get(f"/api/v1/profiles/{who}", headers={"Authorization": f"Bearer {server.admin_key}"})
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()
    return data


def test_segment_sdk_identify_then_track_is_seen_in_that_order(server: Server, client: httpx.Client) -> None:
    errors: list[object] = []
    sdk = segment.Client(
        server.write_key,
        host=server.url,
        sync_mode=True,
        on_error=lambda e, b: errors.append(e),
        max_retries=1,
    )
    sdk.identify("seg-1", {"email": "seg@example.com", "consent": {"email": True}, "plan": "pro"})
    sdk.track("seg-1", "cart_abandoned", {"value": 80, "cart_id": "c9"})
    sdk.page("seg-1", "shop", "home", {"url": "https://shop.example/"})
    sdk.flush()
    assert errors == []
    server.wait_processed(3)
    profile = _profile(server, client, "email:seg@example.com")
    assert profile["traits"] == {"email": "seg@example.com", "plan": "pro"}  # type: ignore[comparison-overlap]
    assert [run["journey"] for run in profile["runs"]] == ["cart-recovery"]  # type: ignore[attr-defined]
    events = [(e["type"], e["event"]) for e in reversed(profile["timeline"])]  # type: ignore[call-overload]
    assert events == [("identify", None), ("track", "cart_abandoned"), ("page", None)]


def test_rudderstack_sdk_with_gzip_and_an_anonymous_visitor_who_signs_in(
    server: Server, client: httpx.Client
) -> None:
    errors: list[object] = []
    sdk = rudder.Client(
        server.write_key, host=server.url, gzip=True, sync_mode=True, on_error=lambda e, b: errors.append(e)
    )
    sdk.track(anonymous_id="anon-42", event="product_viewed", properties={"sku": "A1"})
    sdk.identify(user_id="rud-1", anonymous_id="anon-42", traits={"email": "rud@example.com"})
    sdk.track(user_id="rud-1", event="order_completed", properties={"revenue": 30})
    sdk.flush()
    assert errors == []
    server.wait_processed(3)
    profile = _profile(server, client, "rud-1")
    kinds = {(i["kind"], i["value"]) for i in profile["identities"]}  # type: ignore[attr-defined]
    assert {("user_id", "rud-1"), ("anonymous_id", "anon-42"), ("email", "rud@example.com")} <= kinds
    # The anonymous visit and the signed-in purchase are one customer's timeline.
    assert {e["event"] for e in profile["timeline"]} >= {"product_viewed", "order_completed"}  # type: ignore[attr-defined]
