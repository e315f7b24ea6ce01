"""Webhook and SMS/push provider channels against a real uvicorn server; the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI, Request, Response

from rumbo.delivery.channels.http import GuardedClient, resolve
from rumbo.delivery.channels.provider import ProviderSettings
from rumbo.delivery.channels.webhook import WebhookChannel, WebhookSettings
from rumbo.delivery.errors import UnsafeTarget
from rumbo.delivery.message import Message
from rumbo.delivery.relay import Relay
from rumbo.delivery.settings import DeliverySettings, Limit
from tests.delivery.orders import enqueue, make_send, profile, write_templates
from tests.peers import http_server
from tests.store.conftest import Factory


class Peer:
    """A webhook receiver and SMS/push provider: records requests, fails the first `fail` of them with 503."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.fail = 0
        self.app = FastAPI()

        @self.app.post("/{path:path}")
        async def receive(path: str, request: Request) -> Response:
            if path == "moved":
                return Response(status_code=307, headers={"location": "http://10.1.2.3/hook"})
            self.requests.append((path, dict(request.headers), await request.body()))
            if self.fail > 0:
                self.fail -= 1
                return Response(status_code=503)
            return Response(
                orjson.dumps({"status": "queued", "sid": f"SM{len(self.requests)}"}),
                media_type="application/json",
            )


@pytest.fixture
def peer() -> Iterator[tuple[Peer, str]]:
    p = Peer()
    with http_server(p.app) as url:
        yield p, url


def message(n: int = 1) -> Message:
    return Message("acme", f"key-{n}", f"u{n}", "webhook", "welcome", None, "Hi", "Hello", None, "<m@x>")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
        "http://224.0.0.1/x",
    ],
)
def test_webhooks_to_private_loopback_link_local_or_multicast_targets_are_refused_by_default(
    url: str,
) -> None:
    channel = WebhookChannel(WebhookSettings(url=url, secret="k", timeout=2))
    with pytest.raises(UnsafeTarget, match="allow_private_targets"):
        channel.deliver(message())
    channel.close()


def test_a_public_address_passes_the_guard_and_keeps_its_host() -> None:
    target, host = resolve("webhook", "https://93.184.215.14/path?q=1", allow_private=False)
    assert (str(target), host) == ("https://93.184.215.14/path?q=1", "93.184.215.14")


def test_a_redirect_to_a_private_address_is_refused_even_when_the_first_hop_is_trusted(
    peer: tuple[Peer, str],
) -> None:
    # The workspace trusts 127.0.0.0/8 only; the redirect's target is checked again and refused.
    receiver, url = peer
    channel = WebhookChannel(
        WebhookSettings(url=f"{url}/moved", secret="k", timeout=2, allowed_networks=("127.0.0.0/8",))
    )
    with pytest.raises(UnsafeTarget, match=r"10\.1\.2\.3, a private address"):
        channel.deliver(message())
    channel.close()
    assert receiver.requests == []  # the redirecting hop is not recorded; nothing reached 10.1.2.3


def test_webhooks_are_signed_retried_on_5xx_and_delivered_once(
    store_factory: Factory, tmp_path: Path, peer: tuple[Peer, str]
) -> None:
    receiver, url = peer
    receiver.fail = 1
    store = store_factory()
    enqueue(store, [(make_send(1, channel="webhook"), profile(1))])
    settings = DeliverySettings(
        templates=write_templates(tmp_path / "t"),
        webhook=WebhookSettings(url=f"{url}/hook", secret="whsec", allow_private_targets=True),
    )
    relay = Relay(store_factory, settings, ["acme"])
    first = relay.run_once(now=2000.0)
    assert first.retried == 1
    entry = store.outbox_entry("acme", make_send(1).key)
    assert entry is not None and "503" in (entry.last_error or "")
    second = relay.run_once(now=entry.due_at + 1)
    relay.close()
    assert second.sent == 1
    assert len(receiver.requests) == 2
    path, headers, body = receiver.requests[-1]
    assert path == "hook"
    assert headers["idempotency-key"] == make_send(1).key
    signed = hmac.new(
        b"whsec", headers["x-rumbo-timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["x-rumbo-signature"] == f"v1={signed}"
    data = orjson.loads(body)
    assert data["key"] == make_send(1).key and data["payload"] == {"customer": "u1", "name": "Ana1"}


def test_sms_and_push_go_through_the_generic_provider_definition(
    sqlite_factory: Factory, tmp_path: Path, peer: tuple[Peer, str]
) -> None:
    receiver, url = peer
    store = sqlite_factory()
    enqueue(store, [(make_send(1, channel="sms"), profile(1)), (make_send(2, channel="push"), profile(2))])
    provider: dict[str, Any] = {
        "headers": {"Authorization": "Bearer provider-token"},
        "success_field": "status",
        "success_values": ("queued",),
        "id_field": "sid",
        "allow_private_targets": True,
    }
    settings = DeliverySettings(
        templates=write_templates(tmp_path / "t"),
        providers={
            "sms": ProviderSettings(
                name="smsco",
                url=f"{url}/sms",
                body='{"to": {{ to|tojson }}, "body": {{ text|tojson }}}',
                **provider,
            ),
            "push": ProviderSettings(
                name="pushco",
                url=f"{url}/push",
                body='{"token": {{ to|tojson }}, "title": {{ subject|tojson }}, "body": {{ text|tojson }}}',
                **provider,
            ),
        },
        limits={"sms": Limit(rate=1000.0)},
    )
    relay = Relay(sqlite_factory, settings, ["acme"])
    stats = relay.run_once(now=2000.0)
    relay.close()
    assert stats.sent == 2
    bodies = {path: (headers, orjson.loads(body)) for path, headers, body in receiver.requests}
    assert bodies["sms"][1] == {"to": "+34600000001", "body": "Hi Ana1, your cart is waiting"}
    assert bodies["push"][1] == {"token": "tok2", "title": "Welcome, Ana2", "body": "Your cart is waiting"}
    assert bodies["sms"][0]["authorization"] == "Bearer provider-token"
    assert bodies["sms"][0]["idempotency-key"] == make_send(1).key


def _proxy_stub(server: socket.socket, seen: list[bytes]) -> None:
    """A forward proxy reduced to what the test needs: read one request, note its request line, answer 200."""
    conn, _ = server.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while length and len(body) < int(length.group(1)):
            body += conn.recv(65536)
        seen.append(head.split(b"\r\n")[0])
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


def test_a_proxy_the_environment_names_carries_the_posts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []
    thread = threading.Thread(target=_proxy_stub, args=(server, seen), daemon=True)
    thread.start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("http_proxy", raising=False)
    client = GuardedClient("webhook", timeout=10, allow_private=False)
    try:
        answer = client.post("http://93.184.215.14/hook", content=b"{}", headers={})
    finally:
        client.close()
        thread.join(10)
        server.close()
    assert answer.status == 200
    assert len(seen) == 1 and seen[0].startswith(b"POST http://93.184.215.14"), seen
    assert seen[0].endswith(b"/hook HTTP/1.1")
