"""The ingestion API over real HTTP: Segment's wire format, errors by JSON path, partial batches."""

from __future__ import annotations

import gzip

import httpx
import orjson

from rumbo.store.profiles import SqlDeadLetters
from tests.server.conftest import Server


def test_a_track_is_acknowledged_durable_and_drives_the_journeys(
    server: Server, client: httpx.Client
) -> None:
    auth = (server.write_key, "")
    identify = {
        "userId": "ana",
        "traits": {"email": "ana@example.com", "consent": {"email": True}, "timezone": "Europe/Madrid"},
        "timestamp": "2026-03-02T07:00:00Z",
    }
    assert client.post("/v1/identify", json=identify, auth=auth).json() == {"success": True, "accepted": 1}
    track = {"userId": "ana", "event": "cart_abandoned", "properties": {"value": 60, "cart_id": "k1"}}
    answer = client.post("/v1/track", json=track, auth=auth)
    assert answer.status_code == 200, answer.text
    server.wait_processed(2)
    profile = client.get(
        "/api/v1/profiles/ana", headers={"Authorization": f"Bearer {server.admin_key}"}
    ).json()
    assert profile["traits"]["email"] == "ana@example.com"
    assert {"kind": "user_id", "value": "ana"} in profile["identities"]
    assert [r["journey"] for r in profile["runs"]] == ["cart-recovery"]
    assert profile["runs"][0]["waiting_until"] is not None  # the cart journey waits an hour first
    assert [e["event"] for e in profile["timeline"]][:1] == ["cart_abandoned"]


def test_gzip_batches_with_one_bad_message_keep_the_good_ones(server: Server, client: httpx.Client) -> None:
    batch = {
        "batch": [
            {"type": "track", "userId": "bo", "event": "page_viewed", "messageId": "g1"},
            {"type": "track", "userId": "bo", "messageId": "bad1"},  # no event name
            {"type": "identify", "anonymousId": "anon-7", "userId": "bo", "messageId": "g2"},
        ]
    }
    body = gzip.compress(orjson.dumps(batch))
    answer = client.post(
        "/v1/batch",
        content=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        auth=(server.write_key, ""),
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["accepted"] == 2
    assert [r["path"] for r in data["rejected"]] == ["$.batch[1].event"]
    letters = SqlDeadLetters(server.service.open_store()).letters("default", "rejected")
    assert [(letter.id, [str(r) for r in letter.reasons]) for letter in letters] == [
        ("bad1", ["$.event: " + data["rejected"][0]["message"]])
    ]


def test_bad_requests_say_what_was_wrong(server: Server, client: httpx.Client) -> None:
    assert client.post("/v1/track", json={"userId": "x", "event": "e"}).status_code == 401
    wrong = client.post("/v1/track", json={"userId": "x", "event": "e"}, auth=("nope", ""))
    assert wrong.status_code == 401 and "write key" in wrong.json()["error"]
    invalid = client.post("/v1/track", json={"event": 5}, auth=(server.write_key, ""))
    assert invalid.status_code == 400
    paths = {r["path"] for r in invalid.json()["rejected"]}
    assert "$.event" in paths
    admin_with_write_key = client.get(
        "/api/v1/profiles/x", headers={"Authorization": f"Bearer {server.write_key}"}
    )
    assert admin_with_write_key.status_code == 403


def test_a_resent_message_is_stored_once(server: Server, client: httpx.Client) -> None:
    message = {"userId": "cy", "event": "page_viewed", "messageId": "same-1"}
    for _ in range(3):
        assert client.post("/v1/track", json=message, auth=(server.write_key, "")).status_code == 200
    server.wait_processed(1)
    rows = server.service.open_store()._query("SELECT COUNT(*) FROM events WHERE message_id = 'same-1'")
    assert rows[0][0] == 1
