"""Putting sends into the outbox the way the runtime does, and a template folder for the tests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rumbo.delivery.message import Profile, encode_order
from rumbo.engine.commands import Send
from rumbo.store.base import OutboxEntry, Step
from rumbo.store.sql import SqlStore


def make_send(
    n: int, *, channel: str = "email", template: str = "welcome", customer: str | None = None
) -> Send:
    return Send(
        key=f"cart@1:email:u{n}:m{n}",
        customer=customer or f"u{n}",
        journey="cart",
        version=1,
        run=f"run-{n}",
        node="remind",
        channel=channel,
        template=template,
        at=1000.0 + n,
        variant="A",
        topic="news",
    )


def profile(n: int, **traits: Any) -> Profile:
    return Profile(
        traits={
            "email": f"u{n}@example.com",
            "phone": f"+3460000{n:04d}",
            "push_token": f"tok{n}",
            "first_name": f"Ana{n}",
            **traits,
        },
        consent={"email": True},
    )


def enqueue(
    store: SqlStore,
    orders: Sequence[tuple[Send, Profile]],
    *,
    workspace: str = "acme",
    at: float = 1000.0,
    event: dict[str, Any] | None = None,
) -> None:
    """Commit the sends as the runtime would: each customer's sends in one step's outbox."""
    by_customer: dict[str, list[OutboxEntry]] = defaultdict(list)
    for send, prof in orders:
        by_customer[send.customer].append(
            OutboxEntry(send.key, "send", encode_order(workspace, send, prof, event))
        )
    steps = [
        Step(workspace=workspace, customer=c, expected_version=0, state=b"{}", at=at, outbox=entries)
        for c, entries in sorted(by_customer.items())
    ]
    for start in range(0, len(steps), 500):
        results = store.commit_steps(steps[start : start + 500])
        assert all(isinstance(r, int) for r in results), results


TEMPLATES = {
    "_blocks/footer.html": '<p class="footer">Manage: <a href="{{ preferences_url }}">preferences</a></p>',
    "_blocks/footer.txt": "Manage your preferences: {{ preferences_url }}",
    "welcome/subject.txt": "Welcome, {{ traits.first_name }}",
    "welcome/subject.es.txt": "Bienvenida, {{ traits.first_name }}",
    "welcome/email.html": "<h1>Hello {{ traits.first_name }}</h1>"
    '<a href="{{ track("https://shop.example/cart") }}">your cart</a>{% include "_blocks/footer.html" %}',
    "welcome/email.txt": 'Hello {{ traits.first_name }}\n{% include "_blocks/footer.txt" %}',
    "welcome/email.es.txt": 'Hola {{ traits.first_name }}\n{% include "_blocks/footer.txt" %}',
    "welcome/sms.txt": "Hi {{ traits.first_name }}, your cart is waiting",
    "welcome/push.txt": "Your cart is waiting",
    "welcome/inbox.html": "<p>Hello {{ traits.first_name }}</p>",
    "welcome/offline.txt": "Call {{ traits.first_name }} about the cart",
    "welcome/webhook.json": '{"customer": {{ customer|tojson }}, "name": {{ traits.first_name|tojson }}}',
    "broken/email.txt": "Hello {{ traits.missing_trait }}",
    "broken/subject.txt": "Broken",
    "evil/email.txt": "{{ ''.__class__.__mro__ }}",
    "evil/subject.txt": "Evil",
}


def write_templates(root: Path) -> Path:
    for path, text in TEMPLATES.items():
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    return root
