"""Real local peers for the tests and benchmarks: an aiosmtpd SMTP server, uvicorn serving an ASGI app in a
thread, and `rumbo serve` as a process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as MimeMessage
from pathlib import Path
from typing import Any

import httpx
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


def start_serve(
    home: Path, port: int, journeys: Path, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`rumbo serve` as a process of its own (so it can be killed), on SQLite in `home` unless `env` names
    a database, its output appended to `log`."""
    environment = {**os.environ, "RUMBO_HOME": str(home)}
    environment.pop("RUMBO_DATABASE_URL", None)
    environment.update(env or {})
    command = [sys.executable, "-m", "rumbo", "serve", "--port", str(port), "--journeys", str(journeys),
               "--log-level", "warning"]  # fmt: skip
    with open(log, "ab") as out:
        return subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT)


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Wait until the server at `url` answers /health (generously: a loaded machine starts it slowly); fail
    at once if its process exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rumbo serve exited with {process.returncode}; see its log")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"rumbo serve did not come up at {url}")


def printed_write_key(log: Path) -> str:
    """The write key `rumbo serve` printed when it created the default workspace."""
    return next(line.split()[-1] for line in log.read_text().splitlines() if "write key" in line)
