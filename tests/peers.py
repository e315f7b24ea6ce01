"""Real peers for the delivery tests: an aiosmtpd SMTP server, and uvicorn serving an ASGI app, in threads."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as MimeMessage
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What an SMTP server received: every DATA in order, raw, and the messages by Message-ID."""

    received: list[MimeMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient → SMTP reply, to simulate failures

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.received]


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.mailbox.refuse:
            return self.mailbox.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        assert isinstance(data, bytes)
        with self.mailbox.lock:
            self.mailbox.received.append(message_from_bytes(data))
            self.mailbox.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 Message accepted"


@contextlib.contextmanager
def smtp_server(**kwargs: Any) -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on 127.0.0.1; kwargs go to aiosmtpd's SMTP (auth, TLS)."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(_Handler(mailbox), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


@contextlib.contextmanager
def http_server(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
