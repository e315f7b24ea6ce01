"""Where the demo's messages arrive: a real SMTP server and an SMS/push provider endpoint, both local.

They run in a process of their own (the second core), started before the relay and stopped after it:

* **SMTP** (aiosmtpd on 127.0.0.1): every message received is appended, as it came, to `mail/demo.mbox`
  in the data directory (open it with any mail client, or `mailbox.mbox` in Python).
* **Provider** (uvicorn on 127.0.0.1): `POST /sms` and `POST /push` take the bodies rumbo's provider
  channel sends, as a real SMS or push provider's API would, and append each to `files/sms.jsonl` or
  `files/push.jsonl` with the request's `Idempotency-Key`.

Each keeps count of what it received and of the distinct keys (Message-ID, Idempotency-Key) among them,
and reports both when stopped, so the demo can show that every send arrived exactly once.
"""

from __future__ import annotations

import asyncio
import mailbox
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.types import Receive, Scope, Send

from rumbo.demo.processes import ChildProcess, serve_child
from rumbo.demo.server import free_port, serving

MAILBOX = Path("mail") / "demo.mbox"
FILES = Path("files")
PROVIDER_CHANNELS = ("sms", "push")


@dataclass(slots=True)
class SinkCounts:
    """What arrived: messages per channel ("email", "sms", "push"), and distinct keys among them."""

    received: Counter[str] = field(default_factory=Counter)
    distinct: Counter[str] = field(default_factory=Counter)

    def duplicates(self, channel: str) -> int:
        return self.received[channel] - self.distinct[channel]


class _Tally:
    """Counts and distinct keys, shared by the SMTP thread and the HTTP thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts = SinkCounts()
        self.keys: dict[str, set[str]] = {}

    def add(self, channel: str, key: str) -> None:
        with self.lock:
            self.counts.received[channel] += 1
            seen = self.keys.setdefault(channel, set())
            if key not in seen:
                seen.add(key)
                self.counts.distinct[channel] += 1


# The Message-ID header, found without parsing the message: this server takes a hundred thousand of them.
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


# An SMTP path as rumbo's relay writes it, `<local@domain>` and maybe parameters: no quoting, comments or
# source route, so no parser is needed. Anything else goes to aiosmtpd's own parser.
_PLAIN_PATH = re.compile(r"\s*<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+)>")


class _Server(SMTP):
    """aiosmtpd's SMTP server with a cheap path for plain addresses in MAIL FROM and RCPT TO.

    aiosmtpd parses each of them with the email package's header parser (and defines a class on each
    call), which was a quarter of this process's time per message received.
    """

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        found = _PLAIN_PATH.match(arg)
        if found is None:
            return super()._getaddr(arg)
        return found.group(1), arg[found.end() :]


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)


class _MailHandler:
    """aiosmtpd handler: every DATA goes into the mbox as received."""

    def __init__(self, box: mailbox.mbox, tally: _Tally) -> None:
        self.box, self.tally = box, tally

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        if not isinstance(data, bytes):
            data = str(data).encode()
        self.box.add(data)
        found = _MESSAGE_ID.search(data)
        self.tally.add("email", found.group(1).decode() if found else "")
        return "250 Message accepted for delivery"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _ProviderApp:
    """The provider endpoint as a bare ASGI app: Starlette's middleware and routing were a quarter of this
    process's time per request, for one route. Each channel's file stays open; every line is flushed as it
    is written, so the files are complete whenever they are read."""

    def __init__(self, folder: Path, tally: _Tally) -> None:
        self.folder, self.tally = folder, tally
        self.counters = Counter[str]()
        self.files: dict[str, BinaryIO] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        channel = scope["path"].strip("/")
        if channel not in PROVIDER_CHANNELS:
            await _answer(send, 404, b'{"status": "unknown channel"}')
            return
        if scope["method"] != "POST":
            await _answer(send, 405, b'{"status": "POST only"}')
            return
        try:
            fields = orjson.loads(body)
        except orjson.JSONDecodeError:
            fields = None
        if not isinstance(fields, dict):
            await _answer(send, 400, b'{"status": "the body is not a JSON object"}')
            return
        key = _header(scope, b"idempotency-key")
        self.counters[channel] += 1
        out = self.files.get(channel)
        if out is None:
            out = self.files[channel] = open(self.folder / f"{channel}.jsonl", "ab")  # noqa: SIM115
        out.write(orjson.dumps({"idempotency_key": key, **fields}) + b"\n")
        out.flush()
        self.tally.add(channel, key)
        answer = {"status": "queued", "id": f"{channel}-{self.counters[channel]}"}
        await _answer(send, 202, orjson.dumps(answer))

    def close(self) -> None:
        for out in self.files.values():
            out.close()


def _serve(args: dict[str, Any], ready: Callable[[], None], stop: threading.Event) -> dict[str, Any]:
    """Both servers until `stop` is set; what they received."""
    home = Path(args["home"])
    (home / MAILBOX).parent.mkdir(parents=True, exist_ok=True)
    (home / FILES).mkdir(parents=True, exist_ok=True)
    box = mailbox.mbox(home / MAILBOX, create=True)
    tally = _Tally()
    controller = _Controller(
        _MailHandler(box, tally),
        hostname="127.0.0.1",
        port=args["smtp_port"],
        loop=_fast_loop(),
        ready_timeout=30,
    )
    controller.start()
    provider = _ProviderApp(home / FILES, tally)
    try:
        with serving(provider, args["http_port"]):
            ready()
            stop.wait()
    finally:
        controller.stop()
        provider.close()
        box.close()
    return {"received": tally.counts.received, "distinct": tally.counts.distinct}


def _fast_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # installed with uvicorn[standard] where it runs
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Sinks:
    """The sinks' process: its ports while it runs; `stop()` answers with the SinkCounts."""

    def __init__(self, home: Path) -> None:
        self.smtp_port, self.http_port = free_port(), free_port()
        self.process = ChildProcess(
            "the local SMTP and provider servers",
            __name__,
            {"home": str(home), "smtp_port": self.smtp_port, "http_port": self.http_port},
        )

    @property
    def provider_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        self.process.start()

    def check(self) -> None:
        self.process.check()

    def stop(self) -> SinkCounts:
        answer = self.process.stop()
        return SinkCounts(Counter(answer["received"]), Counter(answer["distinct"]))


if __name__ == "__main__":
    serve_child(_serve)
