"""Sends per second through the relay to a local SMTP server and a local webhook server, against a bare loop.

The bare loop sends the same messages without rumbo: one smtplib connection (or one httpx client) in a
loop. The relay claims from a SQLite outbox, renders each template, records attempts before sending,
confirms each acceptance, and closes every batch with records and outcome events. Both run in the same
process against the same servers, which run in a separate process so that they do not share our GIL.
A third run puts 20 ms of latency in the webhook server, as a real provider has: there the relay's worker
threads matter. Each line gives sends per second (wall) and this process's processor time per send (user +
system, every thread: what a busy machine's noise disturbs least). Traffic goes to 127.0.0.1 only.
Usage: .venv/bin/python bench/delivery.py [--messages 2000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rumbo.delivery.channels.email import SmtpSettings, build_email
from rumbo.delivery.channels.webhook import WebhookSettings
from rumbo.delivery.message import Message
from rumbo.delivery.relay import Relay
from rumbo.delivery.settings import DeliverySettings
from rumbo.store.sqlite import SqliteStore
from tests.delivery.orders import enqueue, make_send, profile, write_templates
from tests.peers import free_port


def serve_smtp(port: int) -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    while True:
        time.sleep(3600)


def serve_http(port: int) -> None:
    import asyncio

    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await Request(scope, receive).body()
            if scope["path"] == "/slow":  # a provider 20 ms away, as real ones are
                await asyncio.sleep(0.02)
            await Response(b"ok")(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def messages(n: int, channel: str) -> list[Message]:
    return [
        Message(
            "acme",
            make_send(i).key,
            f"u{i}",
            channel,
            "welcome",
            f"u{i}@example.com",
            f"Welcome, Ana{i}",
            f"Hello Ana{i}",
            f"<h1>Hello Ana{i}</h1>",
            f"<{i}@bench>",
        )
        for i in range(n)
    ]


class Rate:
    """Sends per second (wall) and processor time per send (this process: user + system, all threads)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> Rate:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.per_second = self.n / (time.perf_counter() - self.wall)
        self.cpu_ms = (time.process_time() - self.cpu) * 1000 / self.n


def bare_smtp(port: int, n: int) -> Rate:
    settings = SmtpSettings(port=port)
    with Rate(n) as rate:
        smtp = smtplib.SMTP("127.0.0.1", port)
        for m in messages(n, "email"):
            mail = build_email(m, settings)
            smtp.sendmail(mail.sender, [mail.recipient], mail.data)
        smtp.quit()
    return rate


def bare_http(url: str, n: int) -> Rate:
    with Rate(n) as rate, httpx.Client() as client:
        for m in messages(n, "webhook"):
            client.post(
                url,
                content=f'{{"key": "{m.key}", "text": "{m.text}"}}'.encode(),
                headers={"Content-Type": "application/json"},
            ).raise_for_status()
    return rate


def relay_rate(channel: str, n: int, settings: DeliverySettings, home: Path) -> Rate:
    db = home / f"{channel}-{settings.concurrency}-{time.monotonic_ns()}.db"
    store = SqliteStore(db)
    store.upgrade()
    store.create_workspace("acme", at=0.0)
    enqueue(store, [(make_send(i, channel=channel), profile(i)) for i in range(n)], at=1.0)
    relay = Relay(lambda: SqliteStore(db), settings, ["acme"])
    with Rate(n) as rate:
        sent = 0
        while sent < n:
            stats = relay.run_once()
            assert stats.failed == 0 and stats.retried == 0, stats.errors
            sent += stats.sent
    relay.close()
    store.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    n = parser.parse_args().messages
    smtp_port, http_port = free_port(), free_port()
    servers = [
        multiprocessing.Process(target=serve_smtp, args=(smtp_port,), daemon=True),
        multiprocessing.Process(target=serve_http, args=(http_port,), daemon=True),
    ]
    for p in servers:
        p.start()
    wait_port(smtp_port)
    wait_port(http_port)
    home = Path(tempfile.mkdtemp(prefix="rumbo-bench-delivery-"))
    templates = write_templates(home / "templates")
    print(f"messages per run       {n:,} ({n // 10:,} to the 20 ms webhook)")
    runs = [
        ("email", "email", n, f"http://127.0.0.1:{http_port}/hook"),
        ("webhook", "webhook", n, f"http://127.0.0.1:{http_port}/hook"),
        ("webhook 20ms", "webhook", n // 10, f"http://127.0.0.1:{http_port}/slow"),
    ]
    for label, channel, count, url in runs:
        bare = bare_smtp(smtp_port, count) if channel == "email" else bare_http(url, count)
        print(f"{label + ': bare loop':<30} {bare.per_second:>7,.0f} sends/s; {bare.cpu_ms:.2f} ms CPU/send")
        for concurrency in (1, 4):
            settings = DeliverySettings(
                templates=templates,
                smtp=SmtpSettings(port=smtp_port),
                webhook=WebhookSettings(url=url, secret="bench", allowed_networks=("127.0.0.0/8",)),
                base_url="https://shop.example/delivery",
                secret=b"bench",
                concurrency=concurrency,
                batch=200,
            )
            rate = relay_rate(channel, count, settings, home)
            name = f"{label}: relay, {concurrency} thread{'s' if concurrency > 1 else ''}"
            print(
                f"{name:<30} {rate.per_second:>7,.0f} sends/s; {rate.cpu_ms:.2f} ms CPU/send; "
                f"/ bare = {rate.per_second / bare.per_second:.2f} (target >= 0.50), "
                f"CPU x {rate.cpu_ms / bare.cpu_ms:.1f}"
            )
    for p in servers:
        p.terminate()


if __name__ == "__main__":
    main()
