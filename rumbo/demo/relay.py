"""The demo's delivery: rumbo's outbox relay in a process of its own, on the demo's clock.

The relay is the real one (`rumbo.delivery.Relay`, what `rumbo relay` runs) with settings the demo writes
to `delivery.yaml` in the data directory: email to the local SMTP server, SMS and push to the local
provider endpoint, offline tasks to files, templates from `rumbo/demo/templates`. It reads time from the
shared clock, so sends, retries and `message_sent` events carry the demo's dates; being a process of its
own, it delivers on the second core while the runtime works through the next simulated hours.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

from rumbo.delivery import Relay, load_settings
from rumbo.demo.clock import SharedClock
from rumbo.demo.processes import ChildProcess, serve_child
from rumbo.demo.sinks import FILES, Sinks
from rumbo.store.sql import SqlStore
from rumbo.store.sqlite import SqliteStore

TEMPLATES = Path(__file__).parent / "templates"
SETTINGS_FILE = "delivery.yaml"
LEASE = 30 * 86400.0  # claims are leased in demo time, which jumps an hour at a step: longer than any run


def write_settings(home: Path, sinks: Sinks) -> Path:
    """The delivery settings for this run, as a file a reader can open (and pass to `rumbo relay`)."""
    settings = {
        "templates": str(TEMPLATES),
        "message_id_domain": "demo.rumbo.invalid",
        "smtp": {
            "host": "127.0.0.1",
            "port": sinks.smtp_port,
            "sender": "Demo Shop <shop@demo.rumbo.invalid>",
        },
        "providers": {
            channel: {
                "name": f"local-{channel}",
                "url": f"{sinks.provider_url}/{channel}",
                "body": '{"to": {{ to|tojson }}, "text": {{ text|tojson }}, '
                '"customer": {{ customer|tojson }}}',
                "success_field": "status",
                "success_values": ["queued"],
                "id_field": "id",
            }
            for channel in ("sms", "push")
        },
        "offline_dir": str(home / FILES),
        "allow_private_targets": True,  # the provider endpoint is on 127.0.0.1
        "lease": LEASE,
        "concurrency": 4,
    }
    path = home / SETTINGS_FILE
    path.write_text(
        "# Delivery settings `rumbo demo` used (docs/delivery.md); the ports were those of this run.\n"
        + yaml.safe_dump(settings, sort_keys=False)
    )
    return path


def _run(args: dict[str, Any], ready: Callable[[], None], stop: threading.Event) -> dict[str, Any]:
    """Relay rounds until `stop` is set; the relay's totals."""
    home = Path(args["home"])
    clock = SharedClock.follow(Path(args["clock"]))
    relay = Relay(
        lambda: SqliteStore.open(home, synchronous=args["synchronous"]),
        load_settings(args["settings"]),
        [args["workspace"]],
        clock=clock,
    )
    ready()
    try:
        stats = relay.run(stop, idle=0.05)
    finally:
        relay.close()
    return dataclasses.asdict(stats)


def relay_process(
    home: Path, settings_file: Path, workspace: str, clock: SharedClock, synchronous: str
) -> ChildProcess:
    """The relay's process, not started; `stop()` answers with its RoundStats as a dict."""
    args = {
        "home": str(home),
        "settings": str(settings_file),
        "workspace": workspace,
        "clock": str(clock.path),
        "synchronous": synchronous,
    }
    return ChildProcess("the relay", __name__, args)


def export_inbox(store: SqlStore, workspace: str, path: Path) -> int:
    """The in-app inbox messages (kept in the store for a site or app to fetch) as JSON lines in `path`."""
    rows = store._query(
        "SELECT key, customer, template, subject, body, created_at FROM delivery_inbox "
        "WHERE workspace = ? ORDER BY created_at, key",
        (workspace,),
    )
    columns = ("key", "customer", "template", "subject", "body", "created_at")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for row in rows:
            out.write(orjson.dumps(dict(zip(columns, row, strict=True))) + b"\n")
    return len(rows)


if __name__ == "__main__":
    serve_child(_run)
