"""The demo's sinks as the demo runs them: a process of their own, real SMTP and HTTP on 127.0.0.1."""

from __future__ import annotations

import mailbox
import smtplib
from email import policy
from pathlib import Path

import httpx
import orjson

from rumbo.delivery.channels.email import EmailChannel, SmtpSettings
from rumbo.delivery.message import Message
from rumbo.demo.sinks import FILES, MAILBOX, Sinks


def _message(n: int, to: str) -> Message:
    return Message(
        "default", f"key-{n}", f"c{n}", "email", "welcome", to, f"Hola Añá {n}", "Hola", "<p>Hola</p>",
        f"<m{n}@demo.rumbo.invalid>",
    )  # fmt: skip


def test_the_sinks_keep_every_message_and_count_the_distinct_keys(tmp_path: Path) -> None:
    sinks = Sinks(tmp_path)
    sinks.start()
    try:
        channel = EmailChannel(SmtpSettings(port=sinks.smtp_port, sender="Shop <shop@demo.rumbo.invalid>"))
        for n, to in enumerate(["ana@example.com", "Bob Q <bob.q+x@example.com>", "ana@example.com"]):
            channel.deliver(_message(n, to))
        channel.deliver(_message(0, "ana@example.com"))  # a resend: same Message-ID
        channel.close()
        # Paths the relay never writes (a quoted local part) still go through aiosmtpd's own parser.
        with smtplib.SMTP("127.0.0.1", sinks.smtp_port) as smtp:
            odd = b"Message-ID: <odd@x>\r\n\r\nhi\r\n"
            smtp.sendmail('"odd sender"@example.com', ['"Ana M"@example.com'], odd)
        with httpx.Client(base_url=sinks.provider_url) as client:
            answers = [
                client.post("/sms", json={"to": "+34600", "text": "hola"}, headers={"Idempotency-Key": "s1"}),
                client.post("/sms", json={"to": "+34600", "text": "hola"}, headers={"Idempotency-Key": "s1"}),
                client.post("/push", json={"to": "tok", "text": "hey"}, headers={"Idempotency-Key": "p1"}),
                client.post("/fax", json={"to": "+34600"}),
                client.post("/sms", content=b"not json"),
                client.get("/sms"),
            ]
    finally:
        counts = sinks.stop()
    assert [a.status_code for a in answers] == [202, 202, 202, 404, 400, 405]
    assert [a.json() for a in answers[:3]] == [
        {"status": "queued", "id": "sms-1"},
        {"status": "queued", "id": "sms-2"},
        {"status": "queued", "id": "push-1"},
    ]
    assert (counts.received["email"], counts.distinct["email"], counts.duplicates("email")) == (5, 4, 1)
    assert (counts.received["sms"], counts.distinct["sms"], counts.received["push"]) == (2, 1, 1)
    box = mailbox.mbox(tmp_path / MAILBOX, create=False)
    try:
        mails = list(box)
    finally:
        box.close()
    assert [m["Message-ID"] for m in mails] == [
        "<m0@demo.rumbo.invalid>",
        "<m1@demo.rumbo.invalid>",
        "<m2@demo.rumbo.invalid>",
        "<m0@demo.rumbo.invalid>",
        "<odd@x>",
    ]
    assert policy.default.header_factory("Subject", mails[1]["Subject"]) == "Hola Añá 1"
    sms = [orjson.loads(line) for line in (tmp_path / FILES / "sms.jsonl").read_bytes().splitlines()]
    assert sms == [{"idempotency_key": "s1", "to": "+34600", "text": "hola"}] * 2
    push = [orjson.loads(line) for line in (tmp_path / FILES / "push.jsonl").read_bytes().splitlines()]
    assert push == [{"idempotency_key": "p1", "to": "tok", "text": "hey"}]
