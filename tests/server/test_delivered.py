"""One `rumbo serve` process end to end: an event over HTTP, a journey, the relay, a real SMTP server, and the
open tracked back as an event."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import uvicorn

from rumbo.delivery import load_settings
from rumbo.runtime.service import Service, ServiceConfig
from rumbo.server.app import create_app
from tests.peers import free_port, smtp_server

JOURNEY = """
journey: hello
entry: {event: signed_up}
events: {signed_up: {properties: {}}}
quiet_hours: false  # on the wall clock, the workspace's quiet hours would hold the mail at night
nodes:
  greet: {send: {channel: email, template: hello}, next: done}
  done: {exit: {}}
"""


def test_a_signup_over_http_is_mailed_over_smtp(tmp_path: Path) -> None:
    (tmp_path / "journeys").mkdir()
    (tmp_path / "journeys" / "hello.yaml").write_text(JOURNEY)
    hello = tmp_path / "templates" / "hello"
    hello.mkdir(parents=True)
    (hello / "subject.txt").write_text("Welcome, {{ traits.first_name }}")
    (hello / "email.txt").write_text("Hello {{ traits.first_name }}, thanks for joining.")
    port = free_port()
    with smtp_server() as (smtp_port, mailbox):
        (tmp_path / "delivery.yaml").write_text(
            f"templates: {tmp_path / 'templates'}\n"
            f"base_url: http://127.0.0.1:{port}/delivery\n"
            "secret: test-secret-of-enough-length\n"
            f"smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: shop@example.com}}\n"
        )
        config = ServiceConfig(
            home=tmp_path / "data",
            journeys=[tmp_path / "journeys"],
            delivery=load_settings(tmp_path / "delivery.yaml"),
        )
        service = Service(config)
        service.start()
        assert service.created is not None
        web = uvicorn.Server(
            uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=web.run, daemon=True)
        thread.start()
        try:
            while not web.started:
                time.sleep(0.01)
            auth = (service.created.write_key, "")
            base = f"http://127.0.0.1:{port}"
            identify = {
                "userId": "eva",
                "traits": {"email": "eva@example.com", "first_name": "Eva", "consent": {"email": True}},
            }
            assert httpx.post(base + "/v1/identify", json=identify, auth=auth).status_code == 200
            signup = {"userId": "eva", "event": "signed_up"}
            assert httpx.post(base + "/v1/track", json=signup, auth=auth).status_code == 200
            deadline = time.monotonic() + 30
            while not mailbox.received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [m["Subject"] for m in mailbox.received] == ["Welcome, Eva"]
            assert mailbox.envelopes[0][1] == ["eva@example.com"]
            assert mailbox.received[0]["List-Unsubscribe"].startswith(f"<{base}/delivery")
            # The delivery endpoints and the rest of the API share the process: using one never breaks
            # the other's database connections.
            unsubscribe = str(mailbox.received[0]["List-Unsubscribe"]).split(",")[0].strip("<> ")
            admin = {"Authorization": f"Bearer {service.created.admin_key}"}
            for _ in range(5):
                one_click = httpx.post(unsubscribe, content=b"List-Unsubscribe=One-Click")
                assert one_click.status_code == 200, one_click.text
                assert httpx.get(base + "/api/v1/profiles/eva", headers=admin).status_code == 200
        finally:
            web.should_exit = True
            thread.join(timeout=10)
            service.stop()
