"""A workspace never sees or changes another's data: every route of the OpenAPI document, called with
workspace b's admin key on objects of workspace a, answers without a trace of a and leaves a unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from rumbo.manage import management_router
from rumbo.store.catalog import Actor, SegmentDefinition
from rumbo.store.sql import SqlStore
from tests.manage.conftest import Api, journey_text

MARK = "zzsecretofa"


def _never_opened() -> SqlStore:
    raise AssertionError("the OpenAPI document is built without a store")


_APP = FastAPI()
_APP.include_router(management_router(_never_opened))
ROUTES = sorted(
    (path, method.upper())
    for path, item in _APP.openapi()["paths"].items()
    for method in item
    if method in {"get", "post", "put", "delete"}
)
PATH_VALUES = {"journey": "secret-journey", "name": "secret", "version": "1", "role": "write"}
BODIES: dict[tuple[str, str], Any] = {
    ("/api/v1/journeys", "POST"): {"document": journey_text("secret-journey")},
    ("/api/v1/journeys/{journey}/draft", "PUT"): {"document": journey_text("secret-journey")},
    ("/api/v1/journeys/{journey}/publish", "POST"): {},
    ("/api/v1/journeys/{journey}/start", "POST"): {"customer": "secret-customer"},
    ("/api/v1/segments/{name}", "PUT"): {"rule": "true"},
    ("/api/v1/offers/{name}", "PUT"): {"value": 1},
    ("/api/v1/templates/{name}", "PUT"): {"channel": "sms", "parts": {"text": "b"}},
    ("/api/v1/tracking-plan", "PUT"): {"document": {"unplanned": "allow"}},
    ("/api/v1/settings", "PUT"): {"holdout": 0.5},
    ("/api/v1/workspaces", "POST"): {"name": "c"},
}


def fill_a(api: Api) -> None:
    """Workspace a: one of everything, each carrying MARK."""
    catalog = api.catalog
    who = Actor("admin", "ka")
    text = journey_text("secret-journey").replace("priority: 50", f"priority: 50\ntitle: {MARK}")
    catalog.create_journey("a", "secret-journey", text, actor=who, at=1.0)
    catalog.publish(
        "a", "secret-journey", in_flight="drain", mapping={}, expected_revision=1, actor=who, at=2.0
    )
    catalog.update_draft(
        "a", "secret-journey", text + f"# {MARK} draft\n", expected_revision=None, actor=who, at=3
    )
    catalog.put_segment("a", SegmentDefinition("secret", f"'{MARK}' == 'x'", None, MARK), actor=who, at=4.0)
    catalog.put_template("a", "secret", {"channel": "email", "parts": {"text": MARK}}, actor=who, at=5.0)
    catalog.put_offer("a", "secret", {"title": MARK, "value": 1.0}, actor=who, at=6.0)
    catalog.put_tracking_plan("a", {"name": MARK}, actor=who, at=7.0)
    catalog.put_settings("a", {"timezone": "Europe/Madrid", "holdout": 0.01}, actor=who, at=8.0)


def snapshot(api: Api) -> tuple[object, ...]:
    c = api.catalog
    return (
        c.published("a"),
        c.journeys("a", limit=100),
        c.versions("a", "secret-journey", limit=100),
        c.segments("a"),
        c.offers("a"),
        c.templates("a"),
        c.tracking_plans("a", limit=100),
        c.policy_settings("a"),
        c.revision("a"),
        c.audit("a", limit=1000),
        c.store.find_key(api.a.admin_key),
        c.store.find_key(api.a.write_key),
    )


def test_the_routes_are_all_covered() -> None:
    assert len(ROUTES) >= 25
    assert {m for _, m in ROUTES} == {"GET", "POST", "PUT", "DELETE"}


@pytest.mark.parametrize(("path", "method"), ROUTES, ids=[f"{m} {p}" for p, m in ROUTES])
def test_another_workspace_sees_and_changes_nothing(api: Api, path: str, method: str) -> None:
    fill_a(api)
    before = snapshot(api)
    url = path.removeprefix("/api/v1")
    for key, value in PATH_VALUES.items():
        url = url.replace("{" + key + "}", value)
    params = {"from": "1", "to": "draft"} if path.endswith("/diff") else None
    with api.client(api.b.admin_key) as http:
        answer = http.request(method, url, json=BODIES.get((path, method)), params=params)
    assert answer.status_code < 500, answer.text
    assert MARK not in answer.text
    if any(f"{{{p}}}" in path for p in ("journey", "name", "version")) and method != "PUT":
        assert answer.status_code == 404, answer.text  # a's object does not exist for b
    assert snapshot(api) == before
