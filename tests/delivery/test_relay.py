"""The relay against a real aiosmtpd server and real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from pathlib import Path

from rumbo.delivery.channels.email import SmtpSettings
from rumbo.delivery.limits import RetryPolicy
from rumbo.delivery.relay import Relay
from rumbo.delivery.settings import DeliverySettings
from rumbo.store.deliveries import DeliveryStore
from tests.delivery.orders import enqueue, make_send, profile, write_templates
from tests.peers import smtp_server
from tests.store.conftest import Factory


def settings(tmp_path: Path, port: int, **extra: object) -> DeliverySettings:
    return DeliverySettings(
        templates=write_templates(tmp_path / "templates"),
        smtp=SmtpSettings(port=port, sender="shop@example.com"),
        base_url="https://shop.example/delivery",
        secret=b"s3cret",
        **extra,  # type: ignore[arg-type]
    )


def test_emails_go_out_once_with_text_html_unsubscribe_and_a_stable_message_id(
    store_factory: Factory, tmp_path: Path
) -> None:
    store = store_factory()
    enqueue(
        store, [(make_send(i), profile(i)) for i in range(3)] + [(make_send(3), profile(3, locale="es-MX"))]
    )
    with smtp_server() as (port, mailbox):
        relay = Relay(store_factory, settings(tmp_path, port), ["acme"])
        first = relay.run_once(now=2000.0)
        again = relay.run_once(now=2000.0)
        relay.close()
    assert (first.claimed, first.sent, first.failed) == (4, 4, 0)
    assert again.claimed == 0
    assert len(mailbox.received) == 4
    by_to = {str(m["To"]): m for m in mailbox.received}
    mail = by_to["u1@example.com"]
    assert mail["Subject"] == "Welcome, Ana1"
    assert mail["List-Unsubscribe"].startswith("<https://shop.example/delivery/unsubscribe?t=")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["X-Rumbo-Send"] == make_send(1).key
    assert mail["Message-ID"].endswith("@rumbo.invalid>")
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()
    }
    assert parts["text/plain"].startswith("Hello Ana1")
    assert "<h1>Hello Ana1</h1>" in parts["text/html"]
    assert "https://shop.example/delivery/o?t=" in parts["text/html"]  # the open pixel
    assert "https://shop.example/delivery/c?t=" in parts["text/html"]  # the tracked link
    # The locale variant, with fallback to the default part where no variant exists (the HTML).
    spanish = by_to["u3@example.com"]
    assert spanish["Subject"] == "Bienvenida, Ana3"
    assert "<h1>Hello Ana3</h1>" in str(spanish)
    # The outbox, the attempts, the records and the outcome events agree.
    assert store.outbox_entry("acme", make_send(1).key).status == "sent"  # type: ignore[union-attr]
    info = DeliveryStore(store).sends("acme", [make_send(1).key])[make_send(1).key]
    assert (info.status, info.attempts, info.resent_in_doubt) == ("sent", 1, 0)
    assert [(r.kind, r.data["status"]) for r in store.records("acme", "u1")] == [("delivery", "sent")]
    events = store.next_events("acme", ["u1"], limit=10)
    assert [e.message_id for e in events] == [f"delivery:{make_send(1).key}:sent"]
    assert b'"event":"message_sent"' in events[0].body


def test_a_template_that_fails_for_one_customer_is_recorded_and_the_others_go(
    store_factory: Factory, tmp_path: Path
) -> None:
    store = store_factory()
    enqueue(
        store,
        [
            (make_send(1), profile(1)),
            (make_send(2, template="broken"), profile(2)),
            (make_send(3, template="evil"), profile(3)),
            (make_send(4), profile(4, email=None)),
            (make_send(5, template="no-such-template"), profile(5)),
            (make_send(6), profile(6)),
        ],
    )
    with smtp_server() as (port, mailbox):
        relay = Relay(store_factory, settings(tmp_path, port), ["acme"])
        stats = relay.run_once(now=2000.0)
        relay.close()
    assert sorted(str(m["To"]) for m in mailbox.received) == ["u1@example.com", "u6@example.com"]
    assert (stats.sent, stats.failed) == (2, 4)
    assert "missing_trait" in stats.errors[make_send(2).key]
    assert "sandbox" in stats.errors[make_send(3).key]
    assert "no 'email' trait" in stats.errors[make_send(4).key]
    assert "has none of" in stats.errors[make_send(5).key]
    for n in (2, 3, 4, 5):
        entry = store.outbox_entry("acme", make_send(n).key)
        assert (
            entry is not None
            and entry.status == "failed"
            and entry.last_error == stats.errors[make_send(n).key]
        )
        assert [r.data["status"] for r in store.records("acme", f"u{n}")] == ["failed"]
    # Nothing of the injection attempt reached a message.
    assert all("mro" not in m.as_string() and "object" not in str(m["Subject"]) for m in mailbox.received)


def test_refusals_retry_with_backoff_then_dead_letter(store_factory: Factory, tmp_path: Path) -> None:
    store = store_factory()
    enqueue(store, [(make_send(1), profile(1)), (make_send(2), profile(2)), (make_send(3), profile(3))])
    retry = RetryPolicy(max_attempts=3, base=10.0, cap=100.0)
    with smtp_server() as (port, mailbox):
        mailbox.refuse["u1@example.com"] = "450 mailbox busy, try later"
        mailbox.refuse["u2@example.com"] = "550 no such user"
        relay = Relay(store_factory, settings(tmp_path, port, retry=retry), ["acme"], rng=random.Random(1))
        first = relay.run_once(now=2000.0)
        assert (first.sent, first.retried, first.failed) == (1, 1, 1)
        busy = store.outbox_entry("acme", make_send(1).key)
        assert (
            busy is not None
            and busy.status == "pending"
            and busy.attempts == 1
            and "450" in (busy.last_error or "")
        )
        assert busy.due_at <= relay.clock() + 10.0  # full jitter: uniform(0, base)
        gone = store.outbox_entry("acme", make_send(2).key)
        assert gone is not None and gone.status == "failed" and "550" in (gone.last_error or "")
        relay.run_once(now=busy.due_at + 1000.0)  # second attempt
        third = relay.run_once(now=busy.due_at + 10_000.0)
        relay.close()
    assert third.failed == 1
    dead = store.outbox_entry("acme", make_send(1).key)
    assert dead is not None and (dead.status, dead.attempts) == ("failed", 3)
    assert [r.data["status"] for r in store.records("acme", "u1")] == ["failed"]
    assert [str(m["To"]) for m in mailbox.received] == ["u3@example.com"]


def test_paused_channels_and_templates_are_held_then_sent_once_resumed(
    store_factory: Factory, tmp_path: Path
) -> None:
    store = store_factory()
    enqueue(store, [(make_send(1), profile(1))])
    deliveries = DeliveryStore(store)
    deliveries.pause("acme", "template:welcome", reason="copy under review", at=1.0)
    assert deliveries.paused("acme") == frozenset({"template:welcome"})
    with smtp_server() as (port, mailbox):
        relay = Relay(store_factory, settings(tmp_path, port), ["acme"])
        held = relay.run_once(now=2000.0)
        assert held.deferred == 1 and mailbox.received == []
        assert deliveries.resume("acme", "template:welcome")
        sent = relay.run_once(now=2000.0 + 301)
        relay.close()
    assert sent.sent == 1 and len(mailbox.received) == 1
    assert store.outbox_entry("acme", make_send(1).key).attempts == 1  # type: ignore[union-attr]
