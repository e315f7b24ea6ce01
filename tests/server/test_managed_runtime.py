"""The management API and the runtime in one server: what is published runs, what the plan blocks waits."""

from __future__ import annotations

import httpx

from rumbo.store.profiles import SqlDeadLetters
from tests.server.conftest import Server

JOURNEY = """
journey: hello
entry: {event: signed_up}
events: {signed_up: {properties: {plan: string}}}
nodes:
  greet: {send: {channel: email, template: hello, transactional: true}, next: done}
  done: {exit: {}}
"""

PLAN = {
    "name": "shop",
    "events": {
        "signed_up": {
            "mode": "block",
            "schema": {"properties": {"properties": {"type": "object", "required": ["plan"]}}},
        }
    },
}


def test_a_journey_published_over_the_api_runs_and_the_tracking_plan_blocks(
    server: Server, client: httpx.Client
) -> None:
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    assert client.put("/api/v1/tracking-plan", json={"document": PLAN}, headers=admin).status_code == 200
    assert client.post("/api/v1/journeys", json={"document": JOURNEY}, headers=admin).status_code == 201
    published = client.post("/api/v1/journeys/hello/publish", json={}, headers=admin)
    assert published.status_code == 200, published.text
    auth = (server.write_key, "")
    identify = {"userId": "di", "traits": {"email": "di@example.com"}}
    assert client.post("/v1/identify", json=identify, auth=auth).status_code == 200
    good = {
        "type": "track",
        "userId": "di",
        "event": "signed_up",
        "properties": {"plan": "pro"},
        "messageId": "ok-1",
    }
    bad = {"type": "track", "userId": "di", "event": "signed_up", "properties": {}, "messageId": "blocked-1"}
    answer = client.post("/v1/batch", json={"batch": [good, bad]}, auth=auth)
    assert answer.status_code == 200, answer.text
    assert [r["path"] for r in answer.json()["rejected"]] == ["$.batch[1].properties.plan"]
    server.wait_processed(2)
    profile = client.get("/api/v1/profiles/di", headers=admin).json()
    assert ("hello", "hello") in [(m["journey"], m["template"]) for m in profile["messages"]]
    letters = SqlDeadLetters(server.service.open_store()).letters("default", "signed_up")
    assert [letter.id for letter in letters] == ["blocked-1"]
