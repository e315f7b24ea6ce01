"""The one interface every channel adapter implements.

A channel takes a rendered `Message` and hands it to the outside world, returning the provider's id for
it (or None). It raises `RetryableDelivery` when a later attempt may succeed and `PermanentDelivery` when
not; no driver exception (smtplib, httpx, socket, sqlite3) escapes it. A channel object holds
connections and is used by one thread at a time; the relay gives each worker thread its own.
"""

from __future__ import annotations

from typing import Protocol

from rumbo.delivery.message import Message


class Channel(Protocol):
    """One way of reaching a customer: email, sms, push, webhook, inbox, offline."""

    name: str

    def deliver(self, message: Message) -> str | None:
        """Hand one message over; return the provider's id for it. Its key is its idempotency key."""
        ...

    def close(self) -> None:
        """Release connections; the channel may be used again afterwards (it reconnects)."""
        ...
