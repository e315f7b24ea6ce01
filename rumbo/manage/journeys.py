"""Journey routes: drafts, validation, publishing with the in-flight choice, the lifecycle, versions, diffs.

A journey is a draft until published; each publish freezes the draft as a new immutable version. The
draft revision is the concurrency token: publishing checks it (If-Match or `expected_revision`), so a
version nobody validated never goes live.
"""

# No `from __future__ import annotations` here: FastAPI reads each route's annotations when it is
# declared, and the `Who`/`Store` dependency aliases are built inside the function that declares them.

import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Response

from rumbo.journey.document import parse_document
from rumbo.manage.auth import Caller
from rumbo.manage.checks import journey_problems, mapping_problems, node_ids, parse_journey
from rumbo.manage.errors import Conflict, Invalid, NotFound, ProblemAt
from rumbo.manage.models import (
    NAME_PATTERN,
    DiffOut,
    DocumentIn,
    JourneyOut,
    MoveOut,
    Page,
    ProblemOut,
    PublishIn,
    PublishOut,
    StartIn,
    StartOut,
    ValidationOut,
    VersionOut,
)
from rumbo.runtime.intake import iso
from rumbo.runtime.lifecycle import count_runs
from rumbo.runtime.profile import find_customer
from rumbo.store.base import NewEvent
from rumbo.store.catalog import (
    CatalogStore,
    JourneyRecord,
    JourneyVersion,
    LifecycleAction,
    document_diff,
)

JourneyName = Annotated[str, Path(pattern=NAME_PATTERN, description="the journey id")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=40, description="the draft revision this change was based on"),
]


def journey_out(record: JourneyRecord) -> JourneyOut:
    return JourneyOut(
        journey=record.journey,
        state=record.state,
        draft=record.draft,
        draft_revision=record.draft_revision,
        latest_version=record.latest_version,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def version_out(version: JourneyVersion) -> VersionOut:
    return VersionOut(
        journey=version.journey,
        version=version.version,
        document=version.document,
        in_flight=version.in_flight,
        mapping=version.mapping,
        published_at=version.published_at,
    )


def parse_if_match(value: str | None) -> int | None:
    """`"3"`, `W/"3"` or `3` -> 3; the draft revision as a client echoes the ETag back."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Invalid(
            "If-Match is not a draft revision",
            [
                ProblemAt(
                    "header.If-Match", f"{value!r} is not a whole number", "send the ETag of the journey"
                )
            ],
        )
    return int(text)


def found(store: CatalogStore, workspace: str, journey: str) -> JourneyRecord:
    record = store.journey(workspace, journey)
    if record is None:
        raise NotFound(f"journey {journey!r} not found in workspace {workspace!r}")
    return record


def add_journey_routes(
    router: APIRouter, catalog: Callable[[], CatalogStore], caller: Callable[..., Caller]
) -> None:
    """Declare the journey routes on `router`; `catalog` opens the store, `caller` authenticates."""
    Who = Annotated[Caller, Depends(caller)]
    Store = Annotated[CatalogStore, Depends(catalog)]

    @router.get("/journeys", response_model=Page[JourneyOut], tags=["journeys"])
    def list_journeys(
        *,
        limit: Limit = 50,
        offset: Offset = 0,
        who: Who,
        store: Store,
    ) -> Page[JourneyOut]:
        """Every journey of the workspace, by id, archived ones included."""
        records = store.journeys(who.workspace, limit=limit + 1, offset=offset)
        more = len(records) > limit
        return Page(
            items=[journey_out(r) for r in records[:limit]], next_offset=offset + limit if more else None
        )

    @router.post("/journeys", response_model=JourneyOut, status_code=201, tags=["journeys"])
    def create_journey(
        *,
        body: DocumentIn,
        response: Response,
        who: Who,
        store: Store,
    ) -> JourneyOut:
        """Create a journey from a document; it is a draft until published. The id is its `journey:` field.
        A draft may still have problems (see validate); it must parse and name itself."""
        parsed = parse_journey(body.document)
        assert parsed.journey is not None
        record = store.create_journey(
            who.workspace, parsed.journey, body.document, actor=who.actor, at=time.time()
        )
        response.headers["ETag"] = f'"{record.draft_revision}"'
        return journey_out(record)

    @router.get("/journeys/{journey}", response_model=JourneyOut, tags=["journeys"])
    def get_journey(
        *,
        journey: JourneyName,
        response: Response,
        who: Who,
        store: Store,
    ) -> JourneyOut:
        """A journey: its state, its draft (if any) and its latest version number; the ETag is the draft
        revision."""
        record = found(store, who.workspace, journey)
        response.headers["ETag"] = f'"{record.draft_revision}"'
        return journey_out(record)

    @router.put("/journeys/{journey}/draft", response_model=JourneyOut, tags=["journeys"])
    def update_draft(
        *,
        journey: JourneyName,
        body: DocumentIn,
        response: Response,
        if_match: IfMatch = None,
        who: Who,
        store: Store,
    ) -> JourneyOut:
        """Replace the draft (published versions never change). With If-Match, refuse (409) if someone
        else changed the draft since that revision."""
        parsed = parse_journey(body.document)
        if parsed.journey != journey:
            raise Invalid(
                "the document is for another journey",
                [ProblemAt("$.journey", f"is {parsed.journey!r}, the URL says {journey!r}",
                               "a journey's id never changes; create a new journey for a new id")],
            )  # fmt: skip
        found(store, who.workspace, journey)
        record = store.update_draft(
            who.workspace, journey, body.document, expected_revision=parse_if_match(if_match),
            actor=who.actor, at=time.time(),
        )  # fmt: skip
        response.headers["ETag"] = f'"{record.draft_revision}"'
        return journey_out(record)

    @router.post("/journeys/{journey}/validate", response_model=ValidationOut, tags=["journeys"])
    def validate_journey(*, journey: JourneyName, who: Who, store: Store) -> ValidationOut:
        """Check the draft (or the latest version when there is no draft) against the workspace's
        catalogue: every problem with its JSON path and line, as `rumbo journey validate` reports."""
        record = found(store, who.workspace, journey)
        text = record.draft if record.draft is not None else _latest(store, who.workspace, record).document
        problems = journey_problems(store, who.workspace, parse_journey(text))
        return ValidationOut(
            journey=journey,
            draft_revision=record.draft_revision,
            valid=not problems,
            problems=[ProblemOut(**p.to_dict()) for p in problems],
        )

    @router.post("/journeys/{journey}/publish", response_model=PublishOut, tags=["journeys"])
    def publish_journey(
        *,
        journey: JourneyName,
        body: PublishIn,
        if_match: IfMatch = None,
        who: Who,
        store: Store,
    ) -> PublishOut:
        """Publish the draft as the next version, choosing what happens to runs on older versions. An
        invalid draft is refused (422, every problem listed); a draft changed since the revision given
        (If-Match or `expected_revision`) is refused (409). `dry_run` shows the plan and publishes nothing."""
        record = found(store, who.workspace, journey)
        expected = parse_if_match(if_match)
        if expected is None:
            expected = body.expected_revision
        if expected is not None and expected != record.draft_revision:
            raise Conflict(
                f"journey {journey!r} changed meanwhile: its draft is at revision {record.draft_revision}, "
                f"not {expected}; fetch it again, review the change, and retry with the new revision"
            )
        if record.state == "archived":
            raise Conflict(f"journey {journey!r} is archived and cannot be published again")
        if record.draft is None:
            raise Conflict(
                f"journey {journey!r} has no draft to publish: version {record.latest_version} is current; "
                "PUT a new draft first"
            )
        parsed = parse_journey(record.draft)
        problems = journey_problems(store, who.workspace, parsed)
        if problems:
            raise Invalid(f"journey {journey!r} has problems and was not published", problems)
        earlier = store.versions(who.workspace, journey, limit=10_000)
        old_nodes = {(v.version, n) for v in earlier for n in node_ids(v.document)}
        new_nodes = node_ids(record.draft)
        mapping_issues = mapping_problems(body.in_flight, body.mapping, {n for _, n in old_nodes}, new_nodes)
        if mapping_issues:
            raise Invalid("the node mapping does not fit the versions", mapping_issues)
        waiting = count_runs(store.store, who.workspace, journey) if old_nodes else {}
        plan = [
            _move(v, n, body.in_flight, body.mapping, new_nodes, waiting.get((v, n), 0))
            for v, n in sorted(old_nodes)
        ]
        version = record.latest_version + 1
        if not body.dry_run:
            version = store.publish(
                who.workspace, journey, in_flight=body.in_flight, mapping=body.mapping,
                expected_revision=record.draft_revision, actor=who.actor, at=time.time(),
            ).version  # fmt: skip
        return PublishOut(
            journey=journey,
            published=not body.dry_run,
            version=version,
            in_flight=body.in_flight,
            mapping=body.mapping,
            plan=plan,
        )

    def lifecycle(action: LifecycleAction, doc: str) -> None:
        def change(*, journey: JourneyName, who: Who, store: Store) -> JourneyOut:
            found(store, who.workspace, journey)
            return journey_out(
                store.change_state(who.workspace, journey, action, actor=who.actor, at=time.time())
            )

        change.__doc__ = doc
        change.__name__ = f"{action}_journey"
        router.add_api_route(
            f"/journeys/{{journey}}/{action}",
            change,
            methods=["POST"],
            response_model=JourneyOut,
            tags=["journeys"],
        )

    lifecycle("pause", "Hold every run where it is and admit no new entries; resume continues them.")
    lifecycle("resume", "Continue a paused journey.")
    lifecycle("stop", "End the journey: no new entries; runs end. It can be published again later.")
    lifecycle("archive", "Hide a stopped (or never published) journey from workers and lists of live work.")

    @router.post("/journeys/{journey}/start", response_model=StartOut, status_code=202, tags=["journeys"])
    def start_journey(*, journey: JourneyName, body: StartIn, who: Who, store: Store) -> StartOut:
        """Start the journey for one customer through its `api: true` entry. The start joins the customer's
        log like an event: it is durable when answered, and applied in order with the customer's events,
        under the journey's entry rules (one active run, re-entry)."""
        record = found(store, who.workspace, journey)
        if record.state != "live":
            raise Conflict(
                f"journey {journey!r} is {record.state}: only a live journey can be started; "
                + ("resume it first" if record.state == "paused" else "publish it first")
            )
        if not _has_api_entry(_latest(store, who.workspace, record).document):
            raise Conflict(
                f"journey {journey!r} has no `api: true` entry, so it cannot be started by API; "
                "add `- {api: true}` to its entries and publish it"
            )
        customer = find_customer(store.store, who.workspace, body.customer)
        if customer is None:
            raise NotFound(
                f"no customer {body.customer!r} in workspace {who.workspace!r}: give a customer id, a user "
                "id, an anonymous id or kind:value (email:ana@example.com) of a customer rumbo has seen"
            )
        # Prefixed, so that a client's id cannot collide with (and be deduplicated against) an event's.
        message_id = f"start:{body.messageId or uuid.uuid4().hex}"
        now = time.time()
        # The line replay files use for an API start (rumbo.replay.virtual.input_of reads it as ApiStart).
        message = {
            "type": "rumbo:start",
            "journey": journey,
            "properties": body.properties,
            "messageId": message_id,
            "timestamp": iso(now),
        }
        try:
            encoded = orjson.dumps(message)
        except orjson.JSONEncodeError as exc:
            raise Invalid(
                "the properties cannot be stored",
                [ProblemAt("$.properties", str(exc), "integers must fit in 64 bits")],
            ) from exc
        event = NewEvent(message_id, customer, now, now, encoded)
        new = store.store.append_events(who.workspace, [event])[0]
        return StartOut(journey=journey, customer=customer, messageId=message_id, new=new)

    @router.get("/journeys/{journey}/versions", response_model=Page[VersionOut], tags=["journeys"])
    def list_versions(
        *,
        journey: JourneyName,
        limit: Limit = 50,
        offset: Offset = 0,
        who: Who,
        store: Store,
    ) -> Page[VersionOut]:
        """The published versions, oldest first, with the in-flight choice each was published with."""
        found(store, who.workspace, journey)
        versions = store.versions(who.workspace, journey, limit=limit + 1, offset=offset)
        more = len(versions) > limit
        return Page(
            items=[version_out(v) for v in versions[:limit]], next_offset=offset + limit if more else None
        )

    @router.get("/journeys/{journey}/versions/{version}", response_model=VersionOut, tags=["journeys"])
    def get_version(
        *,
        journey: JourneyName,
        version: Annotated[int, Path(ge=1, le=1_000_000_000)],
        who: Who,
        store: Store,
    ) -> VersionOut:
        """One published version, with its document exactly as published."""
        found(store, who.workspace, journey)
        stored = store.version(who.workspace, journey, version)
        if stored is None:
            raise NotFound(f"journey {journey!r} has no version {version} in workspace {who.workspace!r}")
        return version_out(stored)

    @router.get("/journeys/{journey}/diff", response_model=DiffOut, tags=["journeys"])
    def diff_versions(
        *,
        journey: JourneyName,
        from_: Annotated[
            str, Query(alias="from", pattern=r"^(\d{1,9}|draft)$", description="a version or `draft`")
        ],
        to: Annotated[str, Query(pattern=r"^(\d{1,9}|draft)$", description="a version or `draft`")],
        who: Who,
        store: Store,
    ) -> DiffOut:
        """A unified diff between two versions, or a version and the draft."""
        record = found(store, who.workspace, journey)
        before = _document(store, who.workspace, record, from_)
        after = _document(store, who.workspace, record, to)
        label = f"{journey} {'draft' if from_ == 'draft' else 'v' + from_}"
        other = f"{journey} {'draft' if to == 'draft' else 'v' + to}"
        return DiffOut(
            journey=journey, **{"from": from_}, to=to, diff=document_diff(before, after, label, other)
        )


def _latest(store: CatalogStore, workspace: str, record: JourneyRecord) -> JourneyVersion:
    latest = store.version(workspace, record.journey, record.latest_version)
    if latest is None:
        raise NotFound(f"journey {record.journey!r} has no draft and no published version")
    return latest


def _document(store: CatalogStore, workspace: str, record: JourneyRecord, which: str) -> str:
    if which == "draft":
        if record.draft is None:
            raise NotFound(f"journey {record.journey!r} has no draft: every edit is published")
        return record.draft
    version = store.version(workspace, record.journey, int(which))
    if version is None:
        raise NotFound(f"journey {record.journey!r} has no version {which} in workspace {workspace!r}")
    return version.document


def _move(
    version: int, node: str, in_flight: str, mapping: dict[str, str], new_nodes: set[str], runs: int
) -> MoveOut:
    if in_flight == "drain":
        return MoveOut(from_version=version, from_node=node, to_node="stays", runs=runs)
    target = mapping.get(node, node)
    to_node = target if in_flight == "migrate" and target in new_nodes else "stopped"
    return MoveOut(from_version=version, from_node=node, to_node=to_node, runs=runs)


def _has_api_entry(document: str) -> bool:
    data = parse_document(document).data
    entries: Any = data.get("entry") if isinstance(data, dict) else None
    items = entries if isinstance(entries, list) else [entries]
    return any(isinstance(item, dict) and item.get("api") is True for item in items)
