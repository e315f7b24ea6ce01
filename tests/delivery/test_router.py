"""The delivery router mounted in a FastAPI app under uvicorn: real HTTP, real stores."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from fastapi import FastAPI

from rumbo.delivery.relay import Relay
from rumbo.delivery.router import delivery_router, feedback_signature
from rumbo.delivery.templates import DirectoryTemplates
from rumbo.delivery.tokens import Links, inbox_token
from rumbo.store.deliveries import DeliveryStore, Thresholds
from rumbo.store.sql import SqlStore
from tests.delivery.orders import enqueue, make_send, profile
from tests.delivery.test_relay import settings as relay_settings
from tests.peers import http_server, smtp_server
from tests.store.conftest import Factory

SECRET = b"s3cret"


@pytest.fixture
def served(store_factory: Factory, tmp_path: Path) -> Iterator[tuple[str, SqlStore, str]]:
    """The router under /delivery after the relay sent an email, an inbox message and a call-centre task.

    All three use template welcome: one hard bounce is 100% of email sends and 33% of the template's.
    """
    store = store_factory()
    keys = store.create_workspace("shop", at=0.0)
    enqueue(
        store,
        [(make_send(i, channel=c), profile(i)) for i, c in ((1, "email"), (2, "inbox"), (3, "call_centre"))],
        workspace="shop",
    )
    with smtp_server() as (port, _mailbox):
        relay = Relay(store_factory, relay_settings(tmp_path, port), ["shop"])
        assert relay.run_once(now=2000.0).sent == 3
        relay.close()
    app = FastAPI()
    app.include_router(
        delivery_router(
            store_factory,
            SECRET,
            templates=DirectoryTemplates(tmp_path / "templates"),
            thresholds=Thresholds(min_sent=1, bounce_rate=0.3),
        ),
        prefix="/delivery",
    )
    with http_server(app) as url:
        yield url + "/delivery", store, keys.admin_key


def events(store: SqlStore, customer: str) -> list[dict[str, Any]]:
    return [orjson.loads(e.body) for e in store.next_events("shop", [customer], limit=50)]


def test_open_pixel_and_click_redirect_record_events_once(served: tuple[str, SqlStore, str]) -> None:
    base, store, _ = served
    links = Links(base, SECRET)
    key = make_send(1).key
    with httpx.Client() as client:
        pixel = client.get(links.open_url("shop", key))
        assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
        client.get(links.open_url("shop", key))  # a second open is the same outcome
        click = client.get(links.click_url("shop", key, "https://shop.example/cart"))
        assert click.status_code == 302 and click.headers["location"] == "https://shop.example/cart"
        # A tampered token (another destination) is refused: no open redirect.
        token = parse_qs(urlsplit(links.click_url("shop", key, "https://shop.example/cart")).query)["t"][0]
        forged = links.click_url("shop", key, "https://evil.example/")
        forged_body = parse_qs(urlsplit(forged).query)["t"][0].split(".")[0]
        tampered = client.get(f"{base}/c", params={"t": forged_body + "." + token.split(".")[1]})
        assert tampered.status_code == 400 and "signature" in tampered.text
        assert client.get(f"{base}/o", params={"t": "garbage"}).status_code == 400
    names = [e["event"] for e in events(store, "u1")]
    assert names == ["message_sent", "message_opened", "message_clicked"]
    opened = events(store, "u1")[1]
    assert opened["properties"]["send"] == key and opened["properties"]["template"] == "welcome"
    assert [r.data["status"] for r in store.records("shop", "u1")] == ["sent", "opened", "clicked"]


def test_hard_bounces_past_the_threshold_pause_the_template_and_channel_visibly(
    served: tuple[str, SqlStore, str],
) -> None:
    base, store, admin = served
    body = orjson.dumps(
        {"events": [{"type": "bounced", "send": make_send(1).key, "hard": True, "reason": "5.1.1"}]}
    )
    now = str(int(time.time()))
    with httpx.Client() as client:
        refused = client.post(
            f"{base}/feedback/shop",
            content=body,
            headers={"X-Rumbo-Timestamp": now, "X-Rumbo-Signature": "v1=00"},
        )
        assert refused.status_code == 401
        answer = client.post(
            f"{base}/feedback/shop",
            content=body,
            headers={"X-Rumbo-Timestamp": now, "X-Rumbo-Signature": feedback_signature(SECRET, now, body)},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"recorded": 1, "unknown": [], "paused": ["email", "template:welcome"]}
        listed = client.get(f"{base}/pauses/shop", headers={"Authorization": f"Bearer {admin}"})
        assert [p["target"] for p in listed.json()] == ["email", "template:welcome"]
        assert all(p["automatic"] and "hard bounces" in p["reason"] for p in listed.json())
        assert client.get(f"{base}/pauses/shop").status_code == 401
        resumed = client.delete(f"{base}/pauses/shop/email", headers={"Authorization": f"Bearer {admin}"})
        assert resumed.status_code == 200
    assert DeliveryStore(store).paused("shop") == frozenset({"template:welcome"})
    assert "message_bounced" in [e["event"] for e in events(store, "u1")]


def test_one_click_unsubscribe_and_the_preferences_page_become_consent_events(
    served: tuple[str, SqlStore, str],
) -> None:
    base, store, _ = served
    links = Links(base, SECRET)
    key = make_send(1).key
    with httpx.Client() as client:
        page = client.get(links.preferences_url("shop", key))
        assert page.status_code == 200 and "news messages by email" in page.text
        saved = client.post(
            links.preferences_url("shop", key),
            content="keep=email",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert saved.status_code == 200 and "saved" in saved.text
        one_click = client.post(links.unsubscribe_url("shop", key), content="List-Unsubscribe=One-Click")
        assert one_click.json()["unsubscribed"] == "email.news"
    consent = [e["properties"] for e in events(store, "u1") if e["event"] == "consent_changed"]
    assert {(c["channel"], c["topic"], c["granted"]) for c in consent} == {
        ("email", None, True),
        ("email", "news", False),
    }
    assert "unsubscribed" in [e["event"] for e in events(store, "u1")]


def test_inbox_and_offline_tasks_are_fetched_over_the_api(served: tuple[str, SqlStore, str]) -> None:
    base, _, admin = served
    token = inbox_token(SECRET, "shop", "u2")
    with httpx.Client() as client:
        inbox = client.get(f"{base}/inbox", params={"t": token}).json()
        assert [(m["key"], m["subject"], m["body"], m["read_at"]) for m in inbox] == [
            (make_send(2).key, "Welcome, Ana2", "<p>Hello Ana2</p>", None)
        ]
        read = client.post(f"{base}/inbox/read", params={"t": token, "key": make_send(2).key})
        assert read.status_code == 200
        assert client.get(f"{base}/inbox", params={"t": token, "unread": True}).json() == []
        other = client.get(f"{base}/inbox", params={"t": inbox_token(SECRET, "shop", "u1")}).json()
        assert other == []  # one customer's token never shows another's messages
        tasks = client.get(
            f"{base}/offline/shop/call_centre", headers={"Authorization": f"Bearer {admin}"}
        ).json()
        assert [(t["customer"], t["text"]) for t in tasks] == [("u3", "Call Ana3 about the cart")]
        done = client.post(
            f"{base}/offline/shop/done",
            params={"key": make_send(3).key},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert done.status_code == 200
        assert (
            client.get(
                f"{base}/offline/shop/call_centre", headers={"Authorization": f"Bearer {admin}"}
            ).json()
            == []
        )


def test_preview_renders_for_a_given_profile_and_reports_injection(served: tuple[str, SqlStore, str]) -> None:
    base, _, admin = served
    auth = {"Authorization": f"Bearer {admin}"}
    with httpx.Client() as client:
        ok = client.post(
            f"{base}/preview/shop",
            headers=auth,
            json={"template": "welcome", "channel": "email", "traits": {"first_name": "Lu", "locale": "es"}},
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["locale"] == "es" and ok.json()["parts"]["subject"] == "Bienvenida, Lu"
        evil = client.post(
            f"{base}/preview/shop", headers=auth, json={"template": "evil", "channel": "email", "traits": {}}
        )
        assert evil.status_code == 422 and "sandbox" in evil.json()["detail"]
