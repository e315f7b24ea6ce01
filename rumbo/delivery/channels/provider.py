"""SMS and push through a provider's HTTP API, described by a generic provider definition.

A definition names the URL, the headers (an Authorization header, usually), a Jinja body template that
renders the request body from the message, and what a success looks like: HTTP status codes, and
optionally a field of the JSON answer and the value it must have. Every request carries the send's
idempotency key in an `Idempotency-Key` header, which providers that support it use to drop duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from jinja2.sandbox import ImmutableSandboxedEnvironment

from rumbo.delivery.channels.http import GuardedClient
from rumbo.delivery.errors import DeliveryConfigInvalid, PermanentDelivery, RetryableDelivery
from rumbo.delivery.message import Message


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One provider. `body` is a Jinja template over `to`, `text`, `subject`, `key`, `customer`, `data`."""

    name: str
    url: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    success_status: tuple[int, ...] = (200, 201, 202)
    success_field: str | None = None  # a dotted path in the JSON answer, e.g. "status"
    success_values: tuple[str, ...] = ()  # values of that field meaning success, e.g. ("queued", "sent")
    id_field: str | None = None  # where the provider's message id is, e.g. "sid"
    timeout: float = 10.0
    allow_private_targets: bool = False
    allowed_networks: tuple[str, ...] = ()  # CIDR ranges trusted even though they are not public


def _path(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


class ProviderChannel:
    """SMS or push (its `name`) through one provider."""

    def __init__(self, name: str, settings: ProviderSettings) -> None:
        self.name = name
        self.settings = settings
        env = ImmutableSandboxedEnvironment(autoescape=False)
        env.filters["tojson"] = lambda value: orjson.dumps(value).decode()
        try:
            self._body = env.from_string(settings.body)
        except Exception as exc:
            raise DeliveryConfigInvalid(
                f"provider {settings.name!r}", "body", f"does not parse: {exc}"
            ) from exc
        self._client = GuardedClient(
            name,
            timeout=settings.timeout,
            allow_private=settings.allow_private_targets,
            allowed_networks=tuple(settings.allowed_networks),
        )

    def deliver(self, message: Message) -> str | None:
        if not message.to:
            raise PermanentDelivery(self.name, f"customer {message.customer!r} has no {self.name} address")
        try:
            body = self._body.render(
                to=message.to,
                text=message.text,
                subject=message.subject,
                key=message.key,
                customer=message.customer,
                data=message.data,
            ).encode()
        except Exception as exc:
            raise PermanentDelivery(
                self.name, f"provider {self.settings.name!r} body template failed: {exc}"
            ) from exc
        answer = self._client.post(
            self.settings.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": message.key,
                **self.settings.headers,
            },
        )
        if answer.status not in self.settings.success_status:
            raise RetryableDelivery(self.name, f"provider {self.settings.name!r} answered {answer.status}")
        data: Any = None
        if self.settings.success_field or self.settings.id_field:
            try:
                data = orjson.loads(answer.body)
            except orjson.JSONDecodeError as exc:
                raise RetryableDelivery(
                    self.name, f"provider {self.settings.name!r} answered non-JSON"
                ) from exc
        if self.settings.success_field:
            value = _path(data, self.settings.success_field)
            if str(value) not in self.settings.success_values:
                raise PermanentDelivery(
                    self.name,
                    f"provider {self.settings.name!r} answered {self.settings.success_field}={value!r}, "
                    f"not one of {list(self.settings.success_values)}",
                )
        if self.settings.id_field:
            found = _path(data, self.settings.id_field)
            return None if found is None else str(found)
        return None

    def close(self) -> None:
        self._client.close()
