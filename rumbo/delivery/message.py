"""The values delivery works with: a send order read from the outbox, and the message rendered from it.

A send order is the outbox body the runtime writes for each `Send` command: the send itself, a snapshot
of the customer's profile (traits, consent, tags) taken when the step committed, and the event that
triggered it. Rendering turns an order into a `Message`, which is all a channel needs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from rumbo.engine.commands import Send


@dataclass(frozen=True, slots=True)
class Profile:
    """The customer as the send saw them: traits, consent per channel or `channel.topic`, tags."""

    traits: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SendOrder:
    """One outbox entry of kind "send", decoded."""

    workspace: str
    send: Send
    profile: Profile
    event: dict[str, Any] | None

    @property
    def key(self) -> str:
        return self.send.key


def encode_order(workspace: str, send: Send, profile: Profile, event: dict[str, Any] | None) -> bytes:
    """The outbox body for a send: what the runtime writes for each Send and `decode_order` reads. A value
    JSON cannot carry (in a trait, say) is written as its text rather than failing the customer's step."""
    return orjson.dumps(
        {
            "workspace": workspace,
            "send": {
                "key": send.key,
                "customer": send.customer,
                "journey": send.journey,
                "version": send.version,
                "run": send.run,
                "node": send.node,
                "channel": send.channel,
                "template": send.template,
                "at": send.at,
                "variant": send.variant,
                "topic": send.topic,
                "offer": send.offer,
                "transactional": send.transactional,
            },
            "profile": {"traits": profile.traits, "consent": profile.consent, "tags": list(profile.tags)},
            "event": event,
        },
        default=str,
    )


def decode_order(body: bytes) -> SendOrder:
    """Read an outbox body; raise ValueError naming the field when it is not a send order."""
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError("outbox body is not a JSON object")
    try:
        s = data["send"]
        send = Send(
            key=str(s["key"]),
            customer=str(s["customer"]),
            journey=str(s["journey"]),
            version=int(s["version"]),
            run=str(s["run"]),
            node=str(s["node"]),
            channel=str(s["channel"]),
            template=str(s["template"]),
            at=float(s["at"]),
            variant=s.get("variant"),
            topic=s.get("topic"),
            offer=s.get("offer"),
            transactional=bool(s.get("transactional", False)),
        )
        p = data.get("profile") or {}
        profile = Profile(
            dict(p.get("traits") or {}), dict(p.get("consent") or {}), tuple(p.get("tags") or ())
        )
        return SendOrder(str(data["workspace"]), send, profile, data.get("event"))
    except KeyError as exc:
        raise ValueError(f"outbox body lacks the field {exc.args[0]!r}") from exc


def message_id(key: str, domain: str) -> str:
    """The email Message-ID of a send: derived from its idempotency key, so a resend carries the same one."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered message, ready for one channel.

    `to` is the address the channel needs (email, phone, push token; None for inbox, webhook and offline).
    `data` carries the send's identifying fields for channels that post structured bodies.
    """

    workspace: str
    key: str
    customer: str
    channel: str
    template: str
    to: str | None
    subject: str
    text: str
    html: str | None
    message_id: str
    unsubscribe_url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
