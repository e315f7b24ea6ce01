"""The webhook channel: an HTTP POST of the message as JSON, signed with HMAC-SHA256.

Headers sent with every request:
- `X-Rumbo-Timestamp`: seconds since the epoch when the request was signed;
- `X-Rumbo-Signature`: `v1=` + hex HMAC-SHA256 over `<timestamp>.<body>` with the workspace's webhook
  secret; a receiver recomputes it and rejects stale timestamps, which stops replays;
- `Idempotency-Key`: the send's idempotency key, the same on every retry and after a crash, so the
  receiver can drop a copy it has already processed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from rumbo.delivery.channels.http import GuardedClient
from rumbo.delivery.errors import PermanentDelivery
from rumbo.delivery.message import Message
from rumbo.delivery.tokens import hmac_sha256


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    url: str
    secret: str
    timeout: float = 10.0
    allow_private_targets: bool = False
    allowed_networks: tuple[str, ...] = ()  # CIDR ranges trusted even though they are not public


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Rumbo-Signature value for a body: receivers compute the same and compare in constant time."""
    return "v1=" + hmac_sha256(secret.encode(), timestamp.encode() + b"." + body).hex()


def webhook_body(message: Message) -> bytes:
    """The JSON posted: the send's fields, the rendered text, and the rendered webhook.json if any."""
    return orjson.dumps(
        {
            "key": message.key,
            "workspace": message.workspace,
            "customer": message.customer,
            "template": message.template,
            "subject": message.subject,
            "text": message.text,
            **message.data,
        }
    )


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: WebhookSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._client = GuardedClient(
            "webhook",
            timeout=settings.timeout,
            allow_private=settings.allow_private_targets,
            allowed_networks=tuple(settings.allowed_networks),
        )

    def deliver(self, message: Message) -> str | None:
        if not self.settings.url:
            raise PermanentDelivery("webhook", "no webhook URL is configured for the workspace")
        body = webhook_body(message)
        timestamp = str(int(self.clock()))
        self._client.post(
            self.settings.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Rumbo-Timestamp": timestamp,
                "X-Rumbo-Signature": signature(self.settings.secret, timestamp, body),
                "Idempotency-Key": message.key,
            },
        )
        return None

    def close(self) -> None:
        self._client.close()
