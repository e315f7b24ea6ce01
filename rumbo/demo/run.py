"""The demo's work: the whole platform, for real, on a synthetic customer base and accelerated time.

1. A fresh data directory: SQLite store, the workspace `default`, the example journeys live in it.
2. The synthetic population (population.py), cut into simulated hours (feed.py).
3. rumbo's HTTP API (`create_app`) under uvicorn on 127.0.0.1 and the worker (`Service`) in this process,
   on the demo's clock (clock.py); two relays in processes of their own (relay.py); the archive exporter
   in another (exporter.py); a local SMTP server and SMS/push provider in another (sinks.py).
4. Hour by hour: move the clock to the end of the hour, post the hour's events over HTTP, append the
   runtime's own inputs, and wait until the worker has processed every event and every timer due. Sends
   become due in the outbox as the worker commits them, and the relays deliver them meanwhile; the
   exporter copies what is committed to the Parquet archive every few seconds.
5. Let the relays finish the outbox, the exporter its last round; read the summary from the store and
   from what the local servers received (summary.py).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import rumbo
from rumbo.delivery.relay import RoundStats
from rumbo.demo.clock import CLOCK_FILE, SharedClock
from rumbo.demo.errors import DemoError
from rumbo.demo.exporter import ARCHIVE, exporter_process, raise_errors
from rumbo.demo.feed import Feeder, hourly
from rumbo.demo.population import DAY, Population
from rumbo.demo.processes import ChildProcess, cpu_seconds
from rumbo.demo.relay import SETTINGS_FILE, export_inbox, relay_process, write_settings
from rumbo.demo.server import serving
from rumbo.demo.sinks import FILES, SinkCounts, Sinks
from rumbo.demo.summary import DemoResult, collect, outbox_counts
from rumbo.journey.load import load_journeys
from rumbo.runtime.archiver import Archiver
from rumbo.runtime.service import Service, ServiceConfig
from rumbo.server.app import create_app
from rumbo.store.sql import SqlStore
from rumbo.store.sqlite import SYNCHRONOUS_ENV

START = 1_772_409_600.0  # 2026-03-02 00:00 UTC, a Monday
PACKAGE_EXAMPLES = Path(rumbo.__file__).parent / "_examples" / "journeys"
CHECKOUT_EXAMPLES = Path(rumbo.__file__).parent.parent / "examples" / "journeys"
HEALTH_CHECK = 5.0  # seconds between looks at the helper processes while waiting on the worker
# SQLite's synchronous mode for every demo process (store/sqlite.py): the data is synthetic and made again
# by the next run, so a commit need not wait for the disk; RUMBO_SQLITE_SYNCHRONOUS=full runs the demo as
# `rumbo serve` runs by default.
SYNCHRONOUS = os.environ.get(SYNCHRONOUS_ENV) or "normal"
# Relay processes: each is bound to one core by its interpreter lock; two keep up with the runtime, and
# finish the outbox on both cores once the simulated days are done. Their leases keep them apart.
RELAYS = 2


def example_journeys() -> Path:
    """The example journeys: from the checkout when running from one, else the copy inside the package."""
    return CHECKOUT_EXAMPLES if CHECKOUT_EXAMPLES.is_dir() else PACKAGE_EXAMPLES


# What a demo's data directory holds: only a directory holding nothing else is emptied for a new run.
DEMO_ENTRIES = frozenset(
    {"rumbo.db", "rumbo.db-wal", "rumbo.db-shm", CLOCK_FILE, SETTINGS_FILE, "mail", "files", ARCHIVE}
)


def _fresh(home: Path) -> None:
    if home.exists():
        if not home.is_dir():
            raise DemoError(f"{home} is a file; give --home a directory (it is emptied first)")
        strangers = sorted(entry.name for entry in home.iterdir() if entry.name not in DEMO_ENTRIES)
        if strangers:
            raise DemoError(
                f"{home} holds {', '.join(strangers[:5])}, which no demo wrote; the demo empties its data "
                "directory first, so give --home a new or empty directory, or an earlier demo's"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True)


def _pending_due(store: SqlStore, workspace: str, now: float) -> int:
    rows = store._query(
        "SELECT COUNT(*) FROM outbox WHERE workspace = ? AND status = 'pending' AND due_at <= ?",
        (workspace, now),
    )
    return int(rows[0][0])


def _export(archiver: Archiver, workspace: str) -> Counter[str]:
    """Export the workspace up to now, and the rows its archive holds by kind. Another exporter may still
    hold a kind's lease (the exporter process letting go): its kinds are taken again once it lets go, so that
    nothing committed before this call is left out."""
    while True:
        report = archiver.export([workspace])
        raise_errors(report)
        if not any(k.held_by for k in report.kinds):
            return Counter({c.kind: c.exported for c in archiver.feed.cursors(workspace)})
        time.sleep(0.1)


def _wait_idle(service: Service, helpers: Sequence[Sinks | ChildProcess]) -> None:
    """Wait for the worker, looking at the helper processes now and then: a crash there stops the demo."""
    while not service.wait_idle(HEALTH_CHECK):
        for helper in helpers:
            helper.check()


def run_demo(home: Path, customers: int, days: int, seed: int, console: Console) -> DemoResult:
    """Run the whole demo into `home` (emptied first) and return what happened."""
    began = time.perf_counter()
    timings: dict[str, float] = {}
    _fresh(home)
    journeys = load_journeys([example_journeys()])
    console.print(
        f"[bold]rumbo demo[/] · {customers:,} customers × {days} days · {len(journeys)} journeys from "
        f"{example_journeys()} · data in {home}"
    )
    end = START + days * DAY
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress, ExitStack() as stack:
        task = progress.add_task(f"generating {customers:,} customers × {days} days", total=customers)
        messages = []
        for message in Population(customers, days, START, seed).messages():
            messages.append(message)
            if message["type"] == "identify":
                progress.advance(task)
        slices = list(hourly(messages, START, end))
        del messages
        timings["generate"] = time.perf_counter() - began

        clock = SharedClock.create(home, START)
        stack.callback(clock.close)
        # The worker works when the demo wakes it (each simulated hour) rather than polling in between,
        # which would take hours half-posted and double its passes.
        # The archive is exported by a process of its own (exporter.py), not by a thread of this one.
        config = ServiceConfig(
            home=home,
            journeys=[example_journeys()],
            idle_sleep=1.0,
            archive_export=False,
            sqlite_synchronous=SYNCHRONOUS,
        )
        service = Service(config, clock=clock)
        service.start()
        stack.callback(service.stop)
        keys = service.created
        if keys is None:
            raise DemoError(f"{home} already held a workspace; the demo needs an empty data directory")
        workspace = keys.workspace
        store = service.connect()
        stack.callback(store.close)
        sinks = Sinks(home)
        sinks.start()
        sink_counts: list[SinkCounts] = []
        stack.callback(lambda: sink_counts.append(sinks.stop()))
        settings = write_settings(home, sinks)
        relays = [relay_process(home, settings, workspace, clock, SYNCHRONOUS) for _ in range(RELAYS)]
        exporter = exporter_process(home, workspace, clock, SYNCHRONOUS)
        exporter_stop = stack.enter_context(ExitStack())
        exporter.start()
        exporter_stop.callback(exporter.stop)
        relays_stop = stack.enter_context(ExitStack())
        for relay in relays:
            relay.start()
            relays_stop.callback(relay.stop)
        helpers: list[Sinks | ChildProcess] = [*relays, exporter, sinks]

        started = time.perf_counter()
        task = progress.add_task(f"running {days} days on accelerated time", total=len(slices))
        with serving(create_app(service)) as url:
            feeder = Feeder(url, keys.write_key)
            stack.callback(feeder.close)
            for number, piece in enumerate(slices, 1):
                clock.advance_to(piece.end)
                feeder.post(piece.batches)
                if piece.runtime:
                    store.append_events(workspace, piece.runtime)
                _wait_idle(service, helpers)
                if number % 24 == 0 or number == len(slices):
                    counts = outbox_counts(store, workspace)
                    progress.update(
                        task,
                        completed=number,
                        description=f"day {number // 24:>3} of {days} · "
                        f"{feeder.accepted:>9,} events over HTTP · {sum(counts.values()):>7,} sends · "
                        f"{counts.get('sent', 0):>7,} delivered",
                    )
        timings["run"] = time.perf_counter() - started

        started = time.perf_counter()
        waiting = _pending_due(store, workspace, clock())
        task = progress.add_task("delivering what is left in the outbox", total=waiting)
        while (left := _pending_due(store, workspace, clock())) > 0:
            progress.update(task, completed=waiting - left)
            for helper in helpers:
                helper.check()
            time.sleep(0.2)
        progress.update(task, completed=waiting)
        relays_stop.pop_all()
        relay_stats = RoundStats()
        for relay in relays:
            relay_stats.add(RoundStats(**relay.stop()))
        _wait_idle(service, [exporter, sinks])  # the last rounds' message_sent events
        timings["deliver"] = time.perf_counter() - started

        # The exporter's last round copies what the last hours and deliveries committed; a later
        # `rumbo serve` on this home carries on from its cursors.
        started = time.perf_counter()
        task = progress.add_task("writing the last of the analytics archive", total=1)
        exporter_stop.pop_all()
        exporter.stop()
        progress.update(task, completed=1)
        archived = _export(Archiver(store, home / ARCHIVE), workspace)
        inbox = export_inbox(store, workspace, home / FILES / "inbox.jsonl")
        timings["archive"] = time.perf_counter() - started
        started = time.perf_counter()
        archive = home / ARCHIVE / workspace
        result = collect(store, workspace, example_journeys(), journeys, home, days, archive)
        timings["summary"] = time.perf_counter() - started
    result.sinks = sink_counts[0] if sink_counts else SinkCounts()
    result.relay = relay_stats
    result.inbox_exported = inbox
    result.archive_rows = dict(archived)
    result.archive_dir = archive
    result.keys = keys
    result.events_posted = feeder.accepted
    result.runtime_inputs = sum(len(piece.runtime) for piece in slices)
    result.timings = {**timings, "total": time.perf_counter() - began}
    result.cpu = {
        "demo process": cpu_seconds(),
        "relays": sum(relay.cpu for relay in relays),
        "archive exporter": exporter.cpu,
        "SMTP and provider servers": sinks.process.cpu,
    }
    return result
