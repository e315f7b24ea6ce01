"""One rumbo process: the store, the appender behind the ingestion API, and the worker loop.

`rumbo serve` builds a Service and runs the HTTP app (rumbo/server) next to it. Stores hold one
connection each, so every thread gets its own from `open_store()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rumbo.delivery import DeliverySettings, Relay
from rumbo.engine.step import Engine
from rumbo.ingest import IngestSettings, TrackingPlan
from rumbo.journey.load import load_journeys
from rumbo.runtime.appender import Appender
from rumbo.runtime.archiver import DEFAULT_INTERVAL, Archiver, archive_root
from rumbo.runtime.segment_files import load_segment_files
from rumbo.runtime.setup import WorkspaceSetups
from rumbo.runtime.worker import Worker
from rumbo.store import open_store
from rumbo.store.base import WorkspaceKeys
from rumbo.store.errors import WorkspaceExists
from rumbo.store.profiles import IdentityCache
from rumbo.store.sql import SqlStore

log = logging.getLogger("rumbo.service")

DEFAULT_WORKSPACE = "default"


@dataclass(slots=True)
class ServiceConfig:
    database_url: str | None = None  # None: RUMBO_DATABASE_URL, else SQLite in RUMBO_HOME / ./rumbo-data
    home: Path | None = None  # the SQLite data directory when no URL is given
    sqlite_synchronous: str | None = None  # None: RUMBO_SQLITE_SYNCHRONOUS, else full (store/sqlite.py)
    journeys: Sequence[Path] = ()  # journey files or folders live in every workspace (journeys as code)
    segments: Sequence[Path] = ()  # segment files live in every workspace (segment_files.py)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    idle_sleep: float = 0.02  # how long the worker sleeps when a tick found nothing to do
    worker: bool = True  # False: only accept events (another process works them)
    identity_cache: bool = True  # turn off when several processes ingest into one PostgreSQL
    delivery: DeliverySettings | None = None  # when given, the outbox relay runs in this process too
    archive: Path | None = None  # the analytics archive; None: RUMBO_ARCHIVE, else <home>/archive on SQLite
    archive_export: bool = True  # False: no archive exporter in this process
    archive_interval: float = DEFAULT_INTERVAL  # seconds between the exporter's rounds


class Service:
    """Owns the threads of one process. `start()` upgrades the schema and starts them; `stop()` drains."""

    def __init__(self, config: ServiceConfig, clock: Callable[[], float] = time.time) -> None:
        self.config, self.clock = config, clock
        self._local = threading.local()
        self._stores: list[SqlStore] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        journeys = load_journeys(config.journeys) if config.journeys else []
        segments = load_segment_files(config.segments) if config.segments else []
        self.setups = WorkspaceSetups(self.open_store, journeys, segments)
        self.appender: Appender | None = None
        self._worker_thread: threading.Thread | None = None
        self._relay_thread: threading.Thread | None = None
        self._archive_thread: threading.Thread | None = None
        self.created: WorkspaceKeys | None = None  # the default workspace, when this start created it
        self.processed = 0
        # Worker passes: how many began, and the last that found nothing to do (see `wait_idle`).
        self._passes = threading.Condition()
        self._pass_started = self._pass_idle = 0
        self._wake = threading.Event()

    # ---- stores ------------------------------------------------------------------------------------
    def connect(self) -> SqlStore:
        """A new store on this process's database, owned by the caller, who closes it."""
        url = self.config.database_url
        if url is None and self.config.home is not None:
            from rumbo.store.sqlite import SqliteStore

            return SqliteStore.open(self.config.home, synchronous=self.config.sqlite_synchronous)
        return open_store(url)  # type: ignore[return-value]

    def open_store(self) -> SqlStore:
        """The calling thread's store, kept open until `stop()`; callers must not close it."""
        store: SqlStore | None = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self.connect()
            with self._lock:
                self._stores.append(store)
        return store

    # ---- what runs in a workspace ------------------------------------------------------------------
    def engine(self, workspace: str) -> Engine:
        return self.setups.engine(workspace)

    def tracking_plan(self, workspace: str) -> TrackingPlan | None:
        return self.setups.tracking_plan(workspace)

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        store = self.open_store()
        store.upgrade()
        if not store.workspaces():
            with suppress(WorkspaceExists):  # another process created it first
                self.created = store.create_workspace(DEFAULT_WORKSPACE, at=self.clock())
        cache = IdentityCache() if self.config.identity_cache else None
        self.appender = Appender(self.connect, cache=cache)
        if self.config.worker:
            self._worker_thread = threading.Thread(target=self._work, name="rumbo-worker", daemon=True)
            self._worker_thread.start()
        if self.config.delivery is not None:
            self._relay_thread = threading.Thread(target=self._deliver, name="rumbo-relay", daemon=True)
            self._relay_thread.start()
        if self.config.archive_export and self.archive_root is not None:
            self._archive_thread = threading.Thread(target=self._archive, name="rumbo-archiver", daemon=True)
            self._archive_thread.start()

    @property
    def archive_root(self) -> Path | None:
        """The folder of every workspace's analytics archive (`<root>/<workspace>`), or None."""
        return archive_root(self.config.archive, self.config.database_url, self.config.home)

    def wake(self) -> None:
        """Cut the worker's idle sleep short: something is waiting (new events, a clock moved forward)."""
        self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until a worker pass that began after this call found nothing to do: every event appended and
        every timer due before the call has been processed. False if `timeout` ran out first (or the service
        runs no worker). A caller that moves the service's clock (accelerated time) calls it between moves."""
        with self._passes:
            target = self._pass_started + 1
            self._wake.set()
            return self._passes.wait_for(lambda: self._pass_idle >= target, timeout)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in (self._worker_thread, self._relay_thread, self._archive_thread):
            if thread is not None:
                thread.join()
        if self.appender is not None:
            self.appender.close()
        with self._lock:
            for store in self._stores:
                store.close()
            self._stores.clear()

    def _deliver(self) -> None:
        assert self.config.delivery is not None
        relay = Relay(self.connect, self.config.delivery, self.open_store().workspaces(), clock=self.clock)
        try:
            relay.run(self._stop)
        finally:
            relay.close()

    def _archive(self) -> None:
        assert self.archive_root is not None
        store = self.connect()
        try:
            Archiver(store, self.archive_root, clock=self.clock).run(self._stop, self.config.archive_interval)
        finally:
            store.close()

    def _work(self) -> None:
        store = self.connect()
        try:
            self._work_on(store)
        finally:
            store.close()

    def _work_on(self, store: SqlStore) -> None:
        workers: dict[str, Worker] = {}
        while not self._stop.is_set():
            busy = failed = False
            self._wake.clear()  # a wake from here on cuts this pass's idle sleep short
            with self._passes:
                self._pass_started += 1
                this_pass = self._pass_started
            try:
                for workspace in store.workspaces():
                    worker = workers.get(workspace)
                    if worker is None:
                        worker = workers[workspace] = Worker(
                            store, workspace, partial(self.setups.setup, workspace)
                        )
                    report = worker.tick(self.clock())
                    self.processed += report.events
                    busy = busy or not report.idle
            except Exception:  # the loop must survive a bad moment (a database restart, say) and retry
                log.exception("worker tick failed; retrying")
                failed = True
            if not busy:
                if not failed:
                    with self._passes:
                        self._pass_idle = this_pass
                        self._passes.notify_all()
                self._wake.wait(self.config.idle_sleep)
