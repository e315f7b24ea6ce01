"""The workspace catalogue in the store: journeys and their versions, segments, offers, tracking plans,
templates, settings, key rotation and the audit log.

Workers read it (`revision`, `published`, `segments`, `tracking_plan`, `policy_settings`) and reload when
the revision grows; the management API writes it. Each write and its audit entry commit in one
transaction, so no change goes unrecorded and no record describes a change that did not happen. Nothing
here validates documents: rumbo.manage checks them first (the store only refuses what would break its
own invariants: an unknown object, a draft that changed meanwhile, a transition that makes no sense).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, cast

import orjson

from rumbo.store.base import NewEvent, Role
from rumbo.store.errors import StoreConflict, StoreError
from rumbo.store.keys import hash_key, new_key
from rumbo.store.sql import SqlStore, Tx

InFlight = Literal["drain", "migrate", "stop"]
JourneyState = Literal["draft", "live", "paused", "stopped", "archived"]
LifecycleAction = Literal["pause", "resume", "stop", "archive"]
AuditKind = Literal[
    "journey", "template", "segment", "offer", "tracking_plan", "settings", "key", "workspace", "traits"
]

# action -> (states it may start from, state it leads to)
TRANSITIONS: Final[dict[LifecycleAction, tuple[frozenset[str], JourneyState]]] = {
    "pause": (frozenset({"live"}), "paused"),
    "resume": (frozenset({"paused"}), "live"),
    "stop": (frozenset({"live", "paused"}), "stopped"),
    "archive": (frozenset({"draft", "stopped"}), "archived"),
}


class CatalogNotFound(StoreError):
    """The object named is not in this workspace's catalogue."""

    def __init__(self, kind: str, name: str, workspace: str) -> None:
        self.kind, self.name, self.workspace = kind, name, workspace
        super().__init__(f"{kind} {name!r} not found in workspace {workspace!r}")


class CatalogConflict(StoreConflict):
    """The change contradicts what is stored (it exists already, it changed meanwhile, wrong state)."""


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    journey: str
    version: int
    document: str  # the journey document as published (YAML or JSON text)
    in_flight: InFlight  # what publishing it did to runs on older versions
    mapping: dict[str, str]  # old node -> new node, for migrate ({} when none)
    published_at: float
    state: Literal["live", "paused", "stopped"]  # of the journey as a whole; archived ones are not listed


@dataclass(frozen=True, slots=True)
class SegmentDefinition:
    name: str
    rule: str  # a predicate in rumbo's expression language over profile/aggregates
    refresh: float | None  # seconds between re-evaluations for time-based rules, None: on change only
    description: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, as the audit log keeps it: a role and a key id (a prefix of the key's hash),
    never the key. `cli` changes come from the machine itself and carry no key."""

    role: Literal["admin", "cli", "instance"]
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class JourneyRecord:
    journey: str
    state: JourneyState
    draft: str | None  # the draft document, None when every edit has been published
    draft_revision: int  # grows on every draft edit; publish checks it (If-Match)
    latest_version: int  # 0 before the first publish
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class JourneyVersion:
    journey: str
    version: int
    document: str
    in_flight: InFlight
    mapping: dict[str, str]
    published_at: float


@dataclass(frozen=True, slots=True)
class NamedDocument:
    """An offer or a template: a name and an opaque JSON body (a template's body has `channel`)."""

    name: str
    body: dict[str, Any]
    updated_at: float


@dataclass(frozen=True, slots=True)
class PlanVersion:
    version: int
    document: Any
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor_role: str
    actor_key: str | None
    kind: str
    name: str
    action: str
    detail: dict[str, Any]


def key_id(key: str) -> str:
    """A short id for a key that names it in the audit log without revealing it."""
    return hash_key(key)[:12]


def document_diff(before: str, after: str, before_label: str, after_label: str) -> str:
    """A unified diff of two documents, as people read them in a review."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            before_label,
            after_label,
        )
    )


class CatalogValueInvalid(StoreError):
    """A document holds a value the catalogue cannot keep as JSON (an integer beyond 64 bits, say)."""


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError as exc:
        raise CatalogValueInvalid(
            f"the document holds a value that cannot be stored ({exc}); integers must fit in 64 bits, and "
            "keys must be text"
        ) from exc


_JOURNEY_COLUMNS = "journey, state, draft, draft_revision, latest_version, created_at, updated_at"
_VERSION_COLUMNS = "journey, version, document, in_flight, mapping, published_at"


def _journey(row: tuple[Any, ...]) -> JourneyRecord:
    journey, state, draft, revision, latest, created_at, updated_at = row
    return JourneyRecord(journey, state, draft, int(revision), int(latest), created_at, updated_at)


def _version(row: tuple[Any, ...]) -> JourneyVersion:
    journey, version, document, in_flight, mapping, published_at = row
    return JourneyVersion(journey, int(version), document, in_flight, orjson.loads(mapping), published_at)


class CatalogStore:
    """Reads and writes one store's catalogue tables; every method takes the workspace it works in."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        # PostgreSQL row locks serialise two publishes of one journey; SQLite's single writer already does.
        self._for_update = " FOR UPDATE" if store.dialect == "postgres" else ""

    # --- what workers read ---------------------------------------------------------------------------

    def revision(self, workspace: str) -> int:
        rows = self.store._query("SELECT revision FROM catalog_revisions WHERE workspace = ?", (workspace,))
        return int(rows[0][0]) if rows else 0

    def published(self, workspace: str) -> list[PublishedVersion]:
        rows = self.store._query(
            "SELECT v.journey, v.version, v.document, v.in_flight, v.mapping, v.published_at, j.state "
            "FROM journey_versions v JOIN journeys j ON j.workspace = v.workspace AND j.journey = v.journey "
            "WHERE v.workspace = ? AND j.state <> 'archived' ORDER BY v.published_seq",
            (workspace,),
        )
        return [
            PublishedVersion(j, int(v), doc, cast(InFlight, f), orjson.loads(m), at, s)
            for j, v, doc, f, m, at, s in rows
        ]

    def segments(self, workspace: str) -> list[SegmentDefinition]:
        rows = self.store._query(
            "SELECT name, rule, refresh, description FROM segments WHERE workspace = ? ORDER BY name",
            (workspace,),
        )
        return [SegmentDefinition(*row) for row in rows]

    def tracking_plan(self, workspace: str) -> Any | None:
        plans = self.tracking_plans(workspace, limit=1)
        return plans[0].document if plans else None

    def policy_settings(self, workspace: str) -> dict[str, Any]:
        rows = self.store._query("SELECT settings FROM workspace_settings WHERE workspace = ?", (workspace,))
        return cast(dict[str, Any], orjson.loads(rows[0][0])) if rows else {}

    # --- shared write helpers ------------------------------------------------------------------------

    def _bump(self, tx: Tx, workspace: str) -> int:
        rows = tx.rows(
            "INSERT INTO catalog_revisions (workspace, revision) VALUES (?, 1) ON CONFLICT (workspace) "
            "DO UPDATE SET revision = catalog_revisions.revision + 1 RETURNING revision",
            (workspace,),
        )
        return int(rows[0][0])

    def _audit(
        self, tx: Tx, workspace: str, actor: Actor, at: float, kind: AuditKind, name: str, action: str,
        detail: dict[str, Any],
    ) -> None:  # fmt: skip
        tx.execute(
            "INSERT INTO audit_log (workspace, at, actor_role, actor_key, kind, name, action, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (workspace, at, actor.role, actor.key_id, kind, name, action, _json(detail)),
        )

    # --- journeys ------------------------------------------------------------------------------------

    def journey(self, workspace: str, journey: str) -> JourneyRecord | None:
        rows = self.store._query(
            f"SELECT {_JOURNEY_COLUMNS} FROM journeys WHERE workspace = ? AND journey = ?",
            (workspace, journey),
        )
        return _journey(rows[0]) if rows else None

    def journeys(self, workspace: str, *, limit: int, offset: int = 0) -> list[JourneyRecord]:
        rows = self.store._query(
            f"SELECT {_JOURNEY_COLUMNS} FROM journeys WHERE workspace = ? ORDER BY journey LIMIT ? OFFSET ?",
            (workspace, limit, offset),
        )
        return [_journey(row) for row in rows]

    def journey_names(self, workspace: str) -> list[str]:
        """Every journey not archived: what a journey's start_journey may name."""
        rows = self.store._query(
            "SELECT journey FROM journeys WHERE workspace = ? AND state <> 'archived'", (workspace,)
        )
        return [row[0] for row in rows]

    def _locked_journey(self, tx: Tx, workspace: str, journey: str) -> JourneyRecord:
        rows = tx.rows(
            f"SELECT {_JOURNEY_COLUMNS} FROM journeys WHERE workspace = ? AND journey = ?{self._for_update}",
            (workspace, journey),
        )
        if not rows:
            raise CatalogNotFound("journey", journey, workspace)
        return _journey(rows[0])

    def create_journey(
        self, workspace: str, journey: str, document: str, *, actor: Actor, at: float
    ) -> JourneyRecord:
        """A new journey holding only a draft; a journey of that id already in the workspace conflicts."""
        with self.store._write() as tx:
            added = tx.execute(
                "INSERT INTO journeys (workspace, journey, state, draft, draft_revision, latest_version, "
                "created_at, updated_at) VALUES (?, ?, 'draft', ?, 1, 0, ?, ?) "
                "ON CONFLICT (workspace, journey) DO NOTHING",
                (workspace, journey, document, at, at),
            )
            if added != 1:
                raise CatalogConflict(
                    f"journey {journey!r} already exists in workspace {workspace!r}: "
                    "update its draft with PUT /api/v1/journeys/{journey}/draft instead"
                )
            self._audit(tx, workspace, actor, at, "journey", journey, "create", {"document": document})
        return JourneyRecord(journey, "draft", document, 1, 0, at, at)

    def update_draft(
        self, workspace: str, journey: str, document: str, *, expected_revision: int | None, actor: Actor,
        at: float,
    ) -> JourneyRecord:  # fmt: skip
        """Replace the draft (or start one after a publish); `expected_revision` guards a concurrent edit."""
        with self.store._write() as tx:
            current = self._locked_journey(tx, workspace, journey)
            if current.state == "archived":
                raise CatalogConflict(f"journey {journey!r} is archived: its drafts can no longer change")
            _check_revision(journey, current, expected_revision)
            before = (
                current.draft if current.draft is not None else self._latest_document(tx, workspace, current)
            )
            tx.execute(
                "UPDATE journeys SET draft = ?, draft_revision = draft_revision + 1, updated_at = ? "
                "WHERE workspace = ? AND journey = ?",
                (document, at, workspace, journey),
            )
            diff = document_diff(before, document, f"{journey} (before)", f"{journey} (draft)")
            self._audit(tx, workspace, actor, at, "journey", journey, "update_draft", {"diff": diff})
        return JourneyRecord(
            journey, current.state, document, current.draft_revision + 1, current.latest_version,
            current.created_at, at,
        )  # fmt: skip

    def _latest_document(self, tx: Tx, workspace: str, record: JourneyRecord) -> str:
        rows = tx.rows(
            "SELECT document FROM journey_versions WHERE workspace = ? AND journey = ? AND version = ?",
            (workspace, record.journey, record.latest_version),
        )
        return str(rows[0][0]) if rows else ""

    def publish(
        self, workspace: str, journey: str, *, in_flight: InFlight, mapping: dict[str, str],
        expected_revision: int, actor: Actor, at: float,
    ) -> JourneyVersion:  # fmt: skip
        """Make the draft an immutable version. The caller validated the draft at `expected_revision`; if it
        changed since, this conflicts rather than publish something nobody validated."""
        with self.store._write() as tx:
            current = self._locked_journey(tx, workspace, journey)
            if current.state == "archived":
                raise CatalogConflict(f"journey {journey!r} is archived and cannot be published again")
            if current.draft is None:
                raise CatalogConflict(
                    f"journey {journey!r} has no draft to publish: "
                    f"version {current.latest_version} is current"
                )
            _check_revision(journey, current, expected_revision)
            before = self._latest_document(tx, workspace, current)
            version = current.latest_version + 1
            seq = self._bump(tx, workspace)
            tx.execute(
                f"INSERT INTO journey_versions ({_VERSION_COLUMNS}, workspace, published_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (journey, version, current.draft, in_flight, _json(mapping), at, workspace, seq),
            )
            # A paused journey stays paused: publishing changes what runs, not whether it runs.
            state = "paused" if current.state == "paused" else "live"
            tx.execute(
                "UPDATE journeys SET state = ?, draft = NULL, latest_version = ?, updated_at = ? "
                "WHERE workspace = ? AND journey = ?",
                (state, version, at, workspace, journey),
            )
            label = f"{journey} v{current.latest_version}" if current.latest_version else "(nothing)"
            diff = document_diff(before, current.draft, label, f"{journey} v{version}")
            detail = {"version": version, "in_flight": in_flight, "mapping": mapping, "diff": diff}
            self._audit(tx, workspace, actor, at, "journey", journey, "publish", detail)
        return JourneyVersion(journey, version, current.draft, in_flight, mapping, at)

    def change_state(
        self, workspace: str, journey: str, action: LifecycleAction, *, actor: Actor, at: float
    ) -> JourneyRecord:
        """Pause, resume, stop or archive a journey; an action that does not apply to its state conflicts."""
        allowed, target = TRANSITIONS[action]
        with self.store._write() as tx:
            current = self._locked_journey(tx, workspace, journey)
            if current.state not in allowed:
                raise CatalogConflict(
                    f"cannot {action} journey {journey!r}: it is {current.state}; {action} applies to a "
                    f"journey that is {' or '.join(sorted(allowed))}"
                )
            tx.execute(
                "UPDATE journeys SET state = ?, updated_at = ? WHERE workspace = ? AND journey = ?",
                (target, at, workspace, journey),
            )
            self._bump(tx, workspace)
            detail = {"before": current.state, "after": target}
            self._audit(tx, workspace, actor, at, "journey", journey, action, detail)
        return JourneyRecord(
            journey, target, current.draft, current.draft_revision, current.latest_version,
            current.created_at, at,
        )  # fmt: skip

    def versions(self, workspace: str, journey: str, *, limit: int, offset: int = 0) -> list[JourneyVersion]:
        rows = self.store._query(
            f"SELECT {_VERSION_COLUMNS} FROM journey_versions WHERE workspace = ? AND journey = ? "
            "ORDER BY version LIMIT ? OFFSET ?",
            (workspace, journey, limit, offset),
        )
        return [_version(row) for row in rows]

    def version(self, workspace: str, journey: str, version: int) -> JourneyVersion | None:
        rows = self.store._query(
            f"SELECT {_VERSION_COLUMNS} FROM journey_versions WHERE workspace = ? AND journey = ? "
            "AND version = ?",
            (workspace, journey, version),
        )
        return _version(rows[0]) if rows else None

    # --- segments ------------------------------------------------------------------------------------

    def segment(self, workspace: str, name: str) -> SegmentDefinition | None:
        rows = self.store._query(
            "SELECT name, rule, refresh, description FROM segments WHERE workspace = ? AND name = ?",
            (workspace, name),
        )
        return SegmentDefinition(*rows[0]) if rows else None

    def put_segment(self, workspace: str, segment: SegmentDefinition, *, actor: Actor, at: float) -> bool:
        """Create or replace a segment; True when it was new."""
        with self.store._write() as tx:
            rows = tx.rows(
                "SELECT name, rule, refresh, description FROM segments WHERE workspace = ? AND name = ?",
                (workspace, segment.name),
            )
            before = asdict(SegmentDefinition(*rows[0])) if rows else None
            tx.execute(
                "INSERT INTO segments (workspace, name, rule, refresh, description, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, name) DO UPDATE SET "
                "rule = excluded.rule, refresh = excluded.refresh, description = excluded.description, "
                "updated_at = excluded.updated_at",
                (workspace, segment.name, segment.rule, segment.refresh, segment.description, at),
            )
            self._bump(tx, workspace)
            detail = {"before": before, "after": asdict(segment)}
            self._audit(
                tx, workspace, actor, at, "segment", segment.name, "update" if rows else "create", detail
            )
        return not rows

    def delete_segment(self, workspace: str, name: str, *, actor: Actor, at: float) -> None:
        before = self.segment(workspace, name)
        self._delete(workspace, "segments", "segment", name, asdict(before) if before else None, actor, at)

    def _delete(
        self, workspace: str, table: str, kind: AuditKind, name: str, before: Any, actor: Actor, at: float
    ) -> None:
        with self.store._write() as tx:
            if tx.execute(f"DELETE FROM {table} WHERE workspace = ? AND name = ?", (workspace, name)) != 1:
                raise CatalogNotFound(kind, name, workspace)
            self._bump(tx, workspace)
            self._audit(tx, workspace, actor, at, kind, name, "delete", {"before": before, "after": None})

    # --- offers and templates: named JSON documents ----------------------------------------------------

    def offer(self, workspace: str, name: str) -> NamedDocument | None:
        found = self._documents("offers", workspace, name, 1, 0)
        return found[0] if found else None

    def offers(self, workspace: str, *, limit: int = 1000, offset: int = 0) -> list[NamedDocument]:
        return self._documents("offers", workspace, None, limit, offset)

    def put_offer(self, workspace: str, name: str, body: dict[str, Any], *, actor: Actor, at: float) -> bool:
        return self._put_document("offers", "offer", workspace, name, body, actor, at)

    def delete_offer(self, workspace: str, name: str, *, actor: Actor, at: float) -> None:
        before = self.offer(workspace, name)
        self._delete(workspace, "offers", "offer", name, before.body if before else None, actor, at)

    def template(self, workspace: str, name: str) -> NamedDocument | None:
        found = self._documents("templates", workspace, name, 1, 0)
        return found[0] if found else None

    def templates(self, workspace: str, *, limit: int = 1000, offset: int = 0) -> list[NamedDocument]:
        return self._documents("templates", workspace, None, limit, offset)

    def put_template(
        self, workspace: str, name: str, body: dict[str, Any], *, actor: Actor, at: float
    ) -> bool:
        """Create or replace a template; `body` is opaque JSON with at least `channel` and `parts`."""
        return self._put_document("templates", "template", workspace, name, body, actor, at)

    def delete_template(self, workspace: str, name: str, *, actor: Actor, at: float) -> None:
        before = self.template(workspace, name)
        self._delete(workspace, "templates", "template", name, before.body if before else None, actor, at)

    def _documents(
        self, table: str, workspace: str, name: str | None, limit: int, offset: int
    ) -> list[NamedDocument]:
        where = "workspace = ?" + (" AND name = ?" if name is not None else "")
        params = (workspace, name) if name is not None else (workspace,)
        rows = self.store._query(
            f"SELECT name, body, updated_at FROM {table} WHERE {where} ORDER BY name LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [NamedDocument(n, orjson.loads(body), at) for n, body, at in rows]

    def _put_document(
        self, table: str, kind: AuditKind, workspace: str, name: str, body: dict[str, Any], actor: Actor,
        at: float,
    ) -> bool:  # fmt: skip
        with self.store._write() as tx:
            rows = tx.rows(f"SELECT body FROM {table} WHERE workspace = ? AND name = ?", (workspace, name))
            before = orjson.loads(rows[0][0]) if rows else None
            if table == "templates":
                tx.execute(
                    "INSERT INTO templates (workspace, name, channel, body, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (workspace, name) DO UPDATE SET channel = excluded.channel, "
                    "body = excluded.body, updated_at = excluded.updated_at",
                    (workspace, name, str(body.get("channel", "")), _json(body), at),
                )
            else:
                tx.execute(
                    f"INSERT INTO {table} (workspace, name, body, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (workspace, name) DO UPDATE SET body = excluded.body, "
                    "updated_at = excluded.updated_at",
                    (workspace, name, _json(body), at),
                )
            self._bump(tx, workspace)
            detail = {"before": before, "after": body}
            self._audit(tx, workspace, actor, at, kind, name, "update" if rows else "create", detail)
        return not rows

    # --- tracking plans (versioned) --------------------------------------------------------------------

    def tracking_plans(self, workspace: str, *, limit: int, offset: int = 0) -> list[PlanVersion]:
        """Versions of the tracking plan, newest first."""
        rows = self.store._query(
            "SELECT version, document, created_at FROM tracking_plans WHERE workspace = ? "
            "ORDER BY version DESC LIMIT ? OFFSET ?",
            (workspace, limit, offset),
        )
        return [PlanVersion(int(v), orjson.loads(doc), at) for v, doc, at in rows]

    def put_tracking_plan(self, workspace: str, document: Any, *, actor: Actor, at: float) -> int:
        """Store a new version of the plan (checked by the caller); return its version number."""
        with self.store._write() as tx:
            rows = tx.rows(
                "SELECT version, document FROM tracking_plans WHERE workspace = ? "
                "ORDER BY version DESC LIMIT 1",
                (workspace,),
            )
            version = int(rows[0][0]) + 1 if rows else 1
            tx.execute(
                "INSERT INTO tracking_plans (workspace, version, document, created_at) VALUES (?, ?, ?, ?)",
                (workspace, version, _json(document), at),
            )
            self._bump(tx, workspace)
            before = orjson.loads(rows[0][1]) if rows else None
            detail = {"version": version, "before": before, "after": document}
            self._audit(tx, workspace, actor, at, "tracking_plan", "tracking_plan", "update", detail)
        return version

    # --- settings ------------------------------------------------------------------------------------

    def put_settings(self, workspace: str, settings: dict[str, Any], *, actor: Actor, at: float) -> None:
        with self.store._write() as tx:
            rows = tx.rows("SELECT settings FROM workspace_settings WHERE workspace = ?", (workspace,))
            before = orjson.loads(rows[0][0]) if rows else {}
            tx.execute(
                "INSERT INTO workspace_settings (workspace, settings, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (workspace) DO UPDATE SET settings = excluded.settings, "
                "updated_at = excluded.updated_at",
                (workspace, _json(settings), at),
            )
            self._bump(tx, workspace)
            detail = {"before": before, "after": settings}
            self._audit(tx, workspace, actor, at, "settings", "settings", "update", detail)

    # --- keys ----------------------------------------------------------------------------------------

    def rotate_key(self, workspace: str, role: Role, *, actor: Actor, at: float) -> str:
        """Replace the workspace's key of `role`; the old one stops working at once. Returns the new key,
        which is stored only as its hash: this is the one chance to see it."""
        key = new_key(role)
        with self.store._write() as tx:
            rows = tx.rows(
                f"SELECT key_hash FROM api_keys WHERE workspace = ? AND role = ?{self._for_update}",
                (workspace, role),
            )
            if not rows:
                raise CatalogNotFound("workspace", workspace, workspace)
            tx.execute(
                "UPDATE api_keys SET key_hash = ? WHERE workspace = ? AND role = ?",
                (hash_key(key), workspace, role),
            )
            detail = {"role": role, "old_key_id": str(rows[0][0])[:12], "new_key_id": key_id(key)}
            self._audit(tx, workspace, actor, at, "key", role, "rotate", detail)
        return key

    def record_workspace_created(self, workspace: str, *, actor: Actor, at: float) -> None:
        with self.store._write() as tx:
            self._audit(tx, workspace, actor, at, "workspace", workspace, "create", {})

    def append_audited(
        self, workspace: str, events: Sequence[NewEvent], *, kind: AuditKind, name: str, action: str,
        detail: dict[str, Any], actor: Actor, at: float,
    ) -> list[bool]:  # fmt: skip
        """Append events to customers' logs (computed traits, say) and audit it, in one transaction; one
        flag per event, True if it was new. The audit detail gains the counts."""
        with self.store._write() as tx:
            new = self.store._append(tx, workspace, events) if events else []
            counts = {"events": len(events), "new": sum(new)}
            self._audit(tx, workspace, actor, at, kind, name, action, {**detail, **counts})
        return new

    # --- the audit log -------------------------------------------------------------------------------

    def audit(
        self, workspace: str, *, kind: str | None = None, name: str | None = None, limit: int = 50,
        before: int | None = None,
    ) -> list[AuditEntry]:  # fmt: skip
        """Audit entries, newest first; `before` (an entry id) pages back through older ones."""
        where, params = "workspace = ?", list[Any]([workspace])
        for column, value in (("kind", kind), ("name", name)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        if before is not None:
            where += " AND id < ?"
            params.append(before)
        rows = self.store._query(
            "SELECT id, at, actor_role, actor_key, kind, name, action, detail FROM audit_log "
            f"WHERE {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [AuditEntry(int(i), at, r, k, kd, n, a, orjson.loads(d)) for i, at, r, k, kd, n, a, d in rows]


def _check_revision(journey: str, current: JourneyRecord, expected: int | None) -> None:
    if expected is not None and expected != current.draft_revision:
        raise CatalogConflict(
            f"journey {journey!r} changed meanwhile: its draft is at revision {current.draft_revision}, "
            f"not {expected}; fetch it again, review the change, and retry with the new revision"
        )
