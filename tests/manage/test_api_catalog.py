"""Segments, offers, templates, the tracking plan, settings, keys, workspaces and the audit log over HTTP."""

from __future__ import annotations

import base64

import httpx
import pytest

from rumbo.store.catalog import key_id
from tests.manage.conftest import Api


def test_keys_authenticate_as_bearer_or_basic_and_write_keys_are_refused(api: Api) -> None:
    with httpx.Client(base_url=api.url + "/api/v1") as http:
        assert http.get("/workspace", headers={"Authorization": f"Bearer {api.a.admin_key}"}).json() == {
            "workspace": "a",
            "revision": 0,
        }
        basic = base64.b64encode(f"{api.b.admin_key}:".encode()).decode()
        assert http.get("/workspace", headers={"Authorization": f"Basic {basic}"}).json()["workspace"] == "b"
        missing = http.get("/segments")
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
        unknown = http.get("/segments", headers={"Authorization": "Bearer ra_nobody"})
        assert unknown.status_code == 401 and "no workspace has this key" in unknown.json()["error"]
        garbled = http.get("/segments", headers={"Authorization": "Basic !!!"})
        assert garbled.status_code == 401 and "base64" in garbled.json()["error"]
        write = http.get("/segments", headers={"Authorization": f"Bearer {api.a.write_key}"})
        assert write.status_code == 403 and "admin key" in write.json()["error"]


def test_segments_are_type_checked(api: Api) -> None:
    with api.client(api.a.admin_key) as http:
        wrong = http.put("/segments/big", json={"rule": "profile.traits.age > 'x' and", "refresh": 0})
        assert wrong.status_code == 422
        assert [p["path"] for p in wrong.json()["problems"]] == ["$.refresh"]
        bad_rule = http.put("/segments/big", json={"rule": "count('order_completed', '30d') > 'many'"})
        assert bad_rule.status_code == 422 and bad_rule.json()["problems"][0]["path"] == "$.rule"
        ok = http.put("/segments/big", json={"rule": "count('order_completed', '30d') > 3", "refresh": 3600})
        assert ok.status_code == 201, ok.text
        assert http.put("/segments/big", json={"rule": "true", "description": "all"}).status_code == 200
        assert http.get("/segments/big").json() == {
            "name": "big",
            "rule": "true",
            "refresh": None,
            "description": "all",
        }
        assert http.get("/segments").json() == {
            "items": [http.get("/segments/big").json()],
            "next_offset": None,
        }
        assert http.delete("/segments/big").status_code == 204
        gone = http.get("/segments/big")
        assert gone.status_code == 404 and gone.json()["error"] == "segment 'big' not found in workspace 'a'"
        assert http.delete("/segments/big").status_code == 404


def test_offers_templates_and_the_tracking_plan(api: Api) -> None:
    with api.client(api.a.admin_key) as http:
        orphan = http.put("/offers/ten", json={"value": 10, "template": "ten-off", "eligible": "profile.x +"})
        assert orphan.status_code == 422
        assert [p["path"] for p in orphan.json()["problems"]] == ["$.eligible", "$.template"]
        assert http.put("/offers/ten", json={"value": -1, "propensity": 2}).status_code == 422
        template = {"channel": "email", "parts": {"subject": "10% off", "html": "<p>Hi</p>"}, "locale": "es"}
        put = http.put("/templates/ten-off", json=template)
        assert put.status_code == 201 and put.json()["document"] == template  # extra fields kept as given
        assert http.put("/templates/bad", json={"channel": "pigeon", "parts": {}}).status_code == 422
        offer = http.put("/offers/ten", json={"value": 10, "template": "ten-off", "eligible": "true"})
        assert offer.status_code == 201, offer.text
        assert http.get("/offers/ten").json()["template"] == "ten-off"
        assert [t["name"] for t in http.get("/templates").json()["items"]] == ["ten-off"]
        bad_plan = http.put(
            "/tracking-plan", json={"document": {"unplanned": "maybe", "events": {"x": {"mode": "loud"}}}}
        )
        assert bad_plan.status_code == 422
        assert {p["path"] for p in bad_plan.json()["problems"]} == {"$.unplanned", "$.events.x.mode"}
        assert http.get("/tracking-plan").status_code == 404
        for mode in ("warn", "block"):
            plan = {"events": {"order_completed": {"mode": mode, "schema": {"type": "object"}}}}
            assert http.put("/tracking-plan", json={"document": plan}).status_code == 200
        assert http.get("/tracking-plan").json()["version"] == 2
        versions = http.get("/tracking-plan/versions", params={"limit": 1}).json()
        assert [v["version"] for v in versions["items"]] == [2] and versions["next_offset"] == 1
    assert api.catalog.tracking_plan("a") == {
        "events": {"order_completed": {"mode": "block", "schema": {"type": "object"}}}
    }


def test_settings_are_checked_and_read_by_workers(api: Api) -> None:
    settings = {
        "caps": [{"max": 2, "per": 86400, "channel": "sms"}],
        "quiet_hours": {"from": "22:00", "to": "07:30"},
        "timezone": "Europe/Madrid",
        "holdout": 0.05,
        "channel_order": ["push", "email"],
    }
    with api.client(api.a.admin_key) as http:
        assert http.get("/settings").json() == {}
        wrong = http.put("/settings", json={**settings, "timezone": "Mars/Base", "holdout": 1})
        assert wrong.status_code == 422 and [p["path"] for p in wrong.json()["problems"]] == ["$.holdout"]
        zone = http.put("/settings", json={**settings, "timezone": "Mars/Base"})
        assert zone.status_code == 422 and zone.json()["problems"][0]["path"] == "$.timezone"
        assert http.put("/settings", json=settings).json() == settings
        assert http.get("/settings").json() == settings
        assert http.put("/settings", json={"quiet_hours": None}).json() == {"quiet_hours": None}
    assert api.catalog.policy_settings("a") == {"quiet_hours": None}


def test_rotating_keys_over_http(api: Api) -> None:
    with api.client(api.a.admin_key) as http:
        rotated = http.post("/keys/write/rotate").json()
        assert rotated["role"] == "write" and rotated["key"].startswith("rw_")
        assert api.catalog.store.find_key(api.a.write_key) is None
        new_admin = http.post("/keys/admin/rotate").json()["key"]
        assert http.get("/workspace").status_code == 401  # the key this client holds was just replaced
    with api.client(new_admin) as http:
        entries = http.get("/audit", params={"kind": "key"}).json()["items"]
        assert [(e["name"], e["actor_key"]) for e in entries] == [
            ("admin", key_id(api.a.admin_key)),
            ("write", key_id(api.a.admin_key)),
        ]
        assert entries[0]["detail"]["new_key_id"] == key_id(new_admin)
        assert new_admin not in str(entries) and rotated["key"] not in str(entries)


def test_the_audit_log_records_every_change_and_pages(api: Api) -> None:
    with api.client(api.a.admin_key) as http:
        for i in range(5):
            http.put("/segments/s", json={"rule": f"profile.traits.n == {i}"})
        http.put("/templates/t", json={"channel": "sms", "parts": {"text": "hi"}})
        http.put("/settings", json={"holdout": 0.1})
        first = http.get("/audit", params={"kind": "segment", "name": "s", "limit": 3}).json()
        assert [e["action"] for e in first["items"]] == ["update"] * 3
        assert first["items"][0]["detail"]["after"]["rule"] == "profile.traits.n == 4"
        assert first["items"][0]["detail"]["before"]["rule"] == "profile.traits.n == 3"
        rest = http.get("/audit", params={"kind": "segment", "before": first["next_before"]}).json()
        assert [e["action"] for e in rest["items"]] == ["update", "create"] and rest["next_before"] is None
        kinds = [e["kind"] for e in http.get("/audit").json()["items"]]
        assert kinds == ["settings", "template"] + ["segment"] * 5
        assert {e["actor_role"] for e in http.get("/audit").json()["items"]} == {"admin"}
        assert http.get("/audit", params={"kind": "nonsense"}).status_code == 422


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_creating_workspaces_needs_the_instance_token(
    api: Api, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if token is None:
        monkeypatch.delenv("RUMBO_ADMIN_TOKEN", raising=False)
    else:
        monkeypatch.setenv("RUMBO_ADMIN_TOKEN", token)
    with httpx.Client(base_url=api.url + "/api/v1") as http:
        refused = http.post(
            "/workspaces", json={"name": "c"}, headers={"Authorization": f"Bearer {api.a.admin_key}"}
        )
        assert refused.status_code == 403
        if token is None:
            assert "rumbo workspace create NAME" in refused.json()["error"]
            return
        made = http.post("/workspaces", json={"name": "c"}, headers={"Authorization": f"Bearer {token}"})
        assert made.status_code == 201, made.text
        keys = made.json()
        assert api.catalog.store.find_key(keys["admin_key"]) is not None
        again = http.post("/workspaces", json={"name": "c"}, headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 409
        bad = http.post(
            "/workspaces", json={"name": "no spaces"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "$.name"
        audit = http.get("/audit", headers={"Authorization": f"Bearer {keys['admin_key']}"}).json()["items"]
        assert [(e["kind"], e["action"], e["actor_role"]) for e in audit] == [
            ("workspace", "create", "instance")
        ]
