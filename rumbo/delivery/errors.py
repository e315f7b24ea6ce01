"""Delivery's errors. Driver exceptions (smtplib, httpx, socket) become these at the channel's edge.

RumboError
└── DeliveryError               a message could not be delivered, rendered or configured
    ├── RetryableDelivery       the provider may accept it later (timeouts, 4xx SMTP, HTTP 5xx/429)
    ├── PermanentDelivery       the provider refused it for good (5xx SMTP, HTTP 4xx, no address)
    │   └── UnsafeTarget        a webhook or provider URL resolves to a private, loopback, link-local,
    │                           multicast or reserved address and the workspace does not allow those
    ├── TemplateError           a template is missing, does not parse, or failed to render (incl. sandbox)
    └── DeliveryConfigInvalid   the delivery settings file has a problem (names the file and field)
"""

from __future__ import annotations

from rumbo.errors import RumboError


class DeliveryError(RumboError):
    """A message could not be delivered, rendered or configured."""


class RetryableDelivery(DeliveryError):
    """The attempt failed in a way that may pass later: the relay retries with backoff."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason
        super().__init__(f"{channel}: {reason} (will retry)")


class PermanentDelivery(DeliveryError):
    """The provider refused the message for good: retrying would give the same answer."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason
        super().__init__(f"{channel}: {reason} (not retried)")


class UnsafeTarget(PermanentDelivery):
    """An outgoing HTTP target resolves to an address the workspace does not allow (SSRF guard)."""

    def __init__(self, channel: str, url: str, address: str, kind: str) -> None:
        self.url = url
        self.address = address
        super().__init__(
            channel,
            f"refused to connect to {url}: it resolves to {address}, a {kind} address — set "
            "`allow_private_targets: true` in the workspace's delivery settings if this target is trusted",
        )


class TemplateError(DeliveryError):
    """A template is missing, does not parse, or failed to render for one customer."""

    def __init__(
        self, template: str, reason: str, *, file: str | None = None, line: int | None = None
    ) -> None:
        self.template = template
        self.reason = reason
        self.file = file
        self.line = line
        where = file or template
        if line is not None:
            where += f":{line}"
        super().__init__(f"template {template!r} ({where}): {reason}")


class DeliveryConfigInvalid(DeliveryError):
    """The delivery settings have a problem; the message names the file and the field."""

    def __init__(self, where: str, field: str, reason: str) -> None:
        self.where = where
        self.field = field
        super().__init__(f"{where}: {field}: {reason}")
