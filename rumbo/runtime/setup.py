"""What runs in a workspace: its engine (journeys as code from files, plus the versions published through
the management API), its send-gate policy, its tracking plan, its segment rules and its journeys'
lifecycle, rebuilt when the catalogue's revision moves."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rumbo.engine.policy import Cap, Policy
from rumbo.engine.step import Engine
from rumbo.errors import RumboError
from rumbo.ingest import TrackingPlan
from rumbo.journey.build import build_journey
from rumbo.journey.document import parse_document
from rumbo.journey.model import Journey, QuietHours
from rumbo.runtime.lifecycle import NO_LIFECYCLE, Lifecycle
from rumbo.runtime.segments import NO_SEGMENTS, SegmentRules
from rumbo.store.catalog import CatalogStore, PublishedVersion, SegmentDefinition
from rumbo.store.deliveries import DeliveryStore
from rumbo.store.sql import SqlStore

log = logging.getLogger("rumbo.setup")


def _minutes(clock: str) -> int:
    hours, _, minutes = clock.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def policy_of(workspace: str, settings: dict[str, Any]) -> Policy:
    """The send gate's policy from the workspace settings the management API keeps (defaults elsewhere)."""
    policy = Policy(workspace=workspace)
    changes: dict[str, Any] = {}
    if "caps" in settings:
        changes["caps"] = tuple(
            Cap(int(c["max"]), float(c["per"]), c.get("channel"), c.get("group")) for c in settings["caps"]
        )
    if "quiet_hours" in settings:
        quiet = settings["quiet_hours"]
        changes["quiet_hours"] = QuietHours(_minutes(quiet["from"]), _minutes(quiet["to"])) if quiet else None
    if settings.get("timezone"):
        changes["default_timezone"] = settings["timezone"]
    for name in ("holdout", "on_cap"):
        if name in settings:
            changes[name] = settings[name]
    if "channel_order" in settings:
        changes["channel_order"] = tuple(settings["channel_order"])
    if not changes:
        return policy
    return replace(policy, **changes)


@dataclass(frozen=True, slots=True)
class Setup:
    """What runs in one workspace at one catalogue revision (a new object whenever any of it changes)."""

    revision: int
    paused: frozenset[str]  # channels and templates the delivery side paused
    engine: Engine
    plan: TrackingPlan | None
    segments: SegmentRules = NO_SEGMENTS
    lifecycle: Lifecycle = NO_LIFECYCLE

    @classmethod
    def of(cls, engine: Engine) -> Setup:
        """An engine alone: no segments, every journey live."""
        return cls(0, frozenset(), engine, None)


class WorkspaceSetups:
    """Per workspace, the engine and tracking plan now in force; cheap to ask on every tick."""

    def __init__(
        self,
        open_store: Callable[[], SqlStore],
        file_journeys: Sequence[Journey] = (),
        file_segments: Sequence[SegmentDefinition] = (),
    ) -> None:
        self._open_store, self._files = open_store, list(file_journeys)
        self._file_segments = {s.name: s for s in file_segments}
        self._built: dict[str, Setup] = {}
        self._lock = threading.Lock()

    def setup(self, workspace: str) -> Setup:
        """The workspace's setup now; the same object until something in it changes."""
        store = self._open_store()
        catalog = CatalogStore(store)
        revision = catalog.revision(workspace)
        # Channels and templates the delivery side paused (bounces, complaints) hold sends at the gate.
        paused = DeliveryStore(store).paused(workspace)
        with self._lock:
            built = self._built.get(workspace)
        if built is not None and built.revision == revision and built.paused == paused:
            return built
        built = self._build(catalog, workspace, revision, paused)
        with self._lock:
            self._built[workspace] = built
        return built

    def _build(self, catalog: CatalogStore, workspace: str, revision: int, paused: frozenset[str]) -> Setup:
        journeys = {(j.id, j.version): j for j in self._files}
        published = _published(catalog, workspace)
        for version in published:
            try:
                doc = parse_document(version.document, f"{version.journey}@{version.version}")
                journey = build_journey(doc, version=version.version)
            except RumboError as exc:  # published versions were validated; a newer rumbo may disagree
                log.error(
                    "workspace %s: %s v%d cannot run: %s", workspace, version.journey, version.version, exc
                )
                continue
            journeys[(journey.id, journey.version)] = journey
        lifecycle = Lifecycle.build(published)
        # The workspace's own definitions take precedence over the files' of the same name.
        definitions = {**self._file_segments, **{s.name: s for s in catalog.segments(workspace)}}
        segments = SegmentRules.compile(definitions.values(), workspace)
        policy = replace(policy_of(workspace, catalog.policy_settings(workspace)), paused=paused)
        engine = Engine(journeys.values(), policy, closed=lifecycle.closed, needs=segments.needs)
        document = catalog.tracking_plan(workspace)
        plan = TrackingPlan.from_document(document) if document is not None else None
        return Setup(revision, paused, engine, plan, segments, lifecycle)

    def engine(self, workspace: str) -> Engine:
        return self.setup(workspace).engine

    def tracking_plan(self, workspace: str) -> TrackingPlan | None:
        return self.setup(workspace).plan


def _published(catalog: CatalogStore, workspace: str) -> list[PublishedVersion]:
    """Every published version, archived journeys' too: their runs must still be ended (lifecycle.py)."""
    versions = catalog.published(workspace)
    offset = 0
    while page := catalog.journeys(workspace, limit=500, offset=offset):
        for record in page:
            if record.state == "archived" and record.latest_version:
                versions += [
                    PublishedVersion(
                        v.journey, v.version, v.document, v.in_flight, v.mapping, v.published_at, "stopped"
                    )
                    for v in catalog.versions(workspace, record.journey, limit=100_000)
                ]
        offset += len(page)
    return versions
