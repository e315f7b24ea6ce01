"""A workspace's runtime on a real store (SQLite and PostgreSQL, the store tests' fixture) driven on virtual
time: the catalogue as the management API writes it, the worker as `rumbo serve` runs it, a clock the test
moves. Events go into the log as the ingestion API puts them there."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
import pytest
import yaml

from rumbo.runtime.codec import decode
from rumbo.runtime.intake import iso
from rumbo.runtime.setup import WorkspaceSetups
from rumbo.runtime.worker import Worker
from rumbo.store.base import NewEvent
from rumbo.store.catalog import Actor, CatalogStore, InFlight, LifecycleAction, SegmentDefinition
from rumbo.store.sql import SqlStore
from tests.store.conftest import Factory, postgres_factory, store_factory

# (re-exported so pytest finds the store tests' fixtures here too)
__all__ = ["Factory", "Runtime", "postgres_factory", "runtime", "store_factory"]

T0 = 1_772_438_400.0  # 2026-03-02 08:00 UTC, a Monday
HOUR = 3600.0
DAY = 86400.0
WORKSPACE = "w"
CLI = Actor("cli")


@dataclass
class Runtime:
    store: SqlStore
    now: float = T0
    catalog: CatalogStore = field(init=False)
    setups: WorkspaceSetups = field(init=False)
    worker: Worker = field(init=False)
    _seq: int = 0

    def __post_init__(self) -> None:
        self.catalog = CatalogStore(self.store)
        self.setups = WorkspaceSetups(lambda: self.store)
        self.restart()

    def restart(self) -> None:
        """A new worker on the same database, as after a restart of `rumbo serve`."""
        self.setups = WorkspaceSetups(lambda: self.store)
        self.worker = Worker(self.store, WORKSPACE, partial(self.setups.setup, WORKSPACE), walk_batch=3)

    # ---- the catalogue -----------------------------------------------------------------------------
    def publish(
        self, document: str, in_flight: InFlight = "drain", mapping: dict[str, str] | None = None
    ) -> int:
        text = textwrap.dedent(document)
        name = str(yaml.safe_load(text)["journey"])
        record = self.catalog.journey(WORKSPACE, name)
        if record is None:
            record = self.catalog.create_journey(WORKSPACE, name, text, actor=CLI, at=self.now)
        else:
            record = self.catalog.update_draft(
                WORKSPACE, name, text, expected_revision=None, actor=CLI, at=self.now
            )
        published = self.catalog.publish(
            WORKSPACE, name, in_flight=in_flight, mapping=mapping or {},
            expected_revision=record.draft_revision, actor=CLI, at=self.now,
        )  # fmt: skip
        return published.version

    def lifecycle(self, journey: str, action: LifecycleAction) -> None:
        self.catalog.change_state(WORKSPACE, journey, action, actor=CLI, at=self.now)

    def segment(self, name: str, rule: str, refresh: float | None = None) -> None:
        self.catalog.put_segment(
            WORKSPACE, SegmentDefinition(name, rule, refresh, ""), actor=CLI, at=self.now
        )

    # ---- the log -----------------------------------------------------------------------------------
    def send(self, customer: str, message: dict[str, Any]) -> None:
        """Append a Segment message for `customer` at the clock's time, as ingestion would."""
        self._seq += 1
        body = {"messageId": f"m{self._seq}", "timestamp": iso(self.now), "userId": customer, **message}
        event = NewEvent(body["messageId"], customer, self.now, self.now, orjson.dumps(body))
        self.store.append_events(WORKSPACE, [event])

    def identify(self, customer: str, **traits: Any) -> None:
        self.send(customer, {"type": "identify", "traits": traits})

    def track(self, customer: str, event: str, **properties: Any) -> None:
        self.send(customer, {"type": "track", "event": event, "properties": properties})

    def work(self) -> None:
        """Tick at the clock's time until the worker finds nothing left to do."""
        self.worker.run_until_idle(lambda: self.now, max_ticks=500)
        assert self.worker.report.idle, "the worker did not settle"

    # ---- what the store holds ----------------------------------------------------------------------
    def runs(self, customer: str) -> list[tuple[str, int, str]]:
        """(journey, version, node) of every run the customer holds, sorted."""
        stored = self.store.load_state(WORKSPACE, customer)
        if stored is None:
            return []
        return sorted((r.journey, r.version, r.node) for r in decode(customer, stored.state).runs.values())

    def segments_in_state(self, customer: str) -> set[str]:
        stored = self.store.load_state(WORKSPACE, customer)
        return set(decode(customer, stored.state).segments) if stored else set()

    def members(self, segment: str) -> dict[str, float]:
        """customer -> entered_at, from the stored memberships."""
        rows = self.store._query(
            "SELECT customer, entered_at FROM segment_members WHERE workspace = ? AND segment = ?",
            (WORKSPACE, segment),
        )
        return {str(c): float(at) for c, at in rows}

    def transitions(self, customer: str, journey: str | None = None) -> list[tuple[Any, ...]]:
        """(journey, version, from, to, cause) of the customer's transition records, in order."""
        return [
            (r.data["journey"], r.data["version"], r.data["from_node"], r.data["to_node"], r.data["cause"])
            for r in self.store.records(WORKSPACE, customer)
            if r.kind == "transition" and (journey is None or r.data["journey"] == journey)
        ]

    def entries(self, customer: str, journey: str) -> int:
        return sum(1 for t in self.transitions(customer, journey) if t[4] == "entered")

    def sends(self, customer: str) -> list[str]:
        """The templates queued in the outbox for the customer, in order."""
        rows = self.store._query(
            "SELECT body FROM outbox WHERE workspace = ? AND customer = ? ORDER BY created_at, key",
            (WORKSPACE, customer),
        )
        return [orjson.loads(bytes(row[0]))["send"]["template"] for row in rows]

    def timers(self, customer: str) -> list[tuple[str, str | None]]:
        """(kind, held journey) of the customer's pending timers."""
        rows = self.store._query(
            "SELECT kind, held FROM timers WHERE workspace = ? AND customer = ? ORDER BY due_at",
            (WORKSPACE, customer),
        )
        return [(str(kind), held) for kind, held in rows]


@pytest.fixture
def runtime(store_factory: Factory) -> Iterator[Runtime]:
    """A fresh workspace `w` on SQLite and on PostgreSQL."""
    store = store_factory()
    store.upgrade()
    store.create_workspace(WORKSPACE, at=T0)
    yield Runtime(store)
