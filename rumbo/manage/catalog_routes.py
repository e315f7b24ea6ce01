"""Routes for the workspace's segments, offers, templates and tracking plan.

Each write is checked before it is stored (segment rules and offer eligibility type-checked with
rumbo.expr, an offer's template must exist, a tracking plan must build) and audited with what it replaced.
"""

# No `from __future__ import annotations` here: FastAPI reads each route's annotations when it is
# declared, and the `Who`/`Store` dependency aliases are built inside the function that declares them.

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from rumbo.manage.auth import Caller
from rumbo.manage.checks import check_tracking_plan, predicate_problems, profile_scope
from rumbo.manage.errors import Invalid, NotFound, ProblemAt
from rumbo.manage.models import (
    NAME_PATTERN,
    OfferIn,
    OfferOut,
    Page,
    SegmentIn,
    SegmentOut,
    TemplateIn,
    TemplateOut,
    TrackingPlanIn,
    TrackingPlanOut,
)
from rumbo.store.catalog import CatalogStore, NamedDocument, SegmentDefinition

Name = Annotated[str, Path(pattern=NAME_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _page(items: list[Any], limit: int, offset: int) -> dict[str, Any]:
    return {"items": items[:limit], "next_offset": offset + limit if len(items) > limit else None}


def segment_out(segment: SegmentDefinition) -> SegmentOut:
    return SegmentOut(
        name=segment.name, rule=segment.rule, refresh=segment.refresh, description=segment.description
    )


def offer_out(offer: NamedDocument) -> OfferOut:
    return OfferOut(name=offer.name, updated_at=offer.updated_at, **offer.body)


def template_out(template: NamedDocument) -> TemplateOut:
    body = template.body
    return TemplateOut(
        name=template.name,
        channel=body["channel"],
        parts=body["parts"],
        document=body,
        updated_at=template.updated_at,
    )


def add_catalog_routes(
    router: APIRouter, catalog: Callable[[], CatalogStore], caller: Callable[..., Caller]
) -> None:
    Who = Annotated[Caller, Depends(caller)]
    Store = Annotated[CatalogStore, Depends(catalog)]

    # --- segments --------------------------------------------------------------------------------------

    @router.get("/segments", response_model=Page[SegmentOut], tags=["segments"])
    def list_segments(
        *,
        limit: Limit = 50,
        offset: Offset = 0,
        who: Who,
        store: Store,
    ) -> Any:
        """The workspace's segments, by name."""
        segments = store.segments(who.workspace)[offset : offset + limit + 1]
        return _page([segment_out(s) for s in segments], limit, offset)

    @router.get("/segments/{name}", response_model=SegmentOut, tags=["segments"])
    def get_segment(*, name: Name, who: Who, store: Store) -> SegmentOut:
        segment = store.segment(who.workspace, name)
        if segment is None:
            raise NotFound(f"segment {name!r} not found in workspace {who.workspace!r}")
        return segment_out(segment)

    @router.put("/segments/{name}", response_model=SegmentOut, tags=["segments"])
    def put_segment(
        *,
        name: Name,
        body: SegmentIn,
        response: Response,
        who: Who,
        store: Store,
    ) -> SegmentOut:
        """Create or replace a segment. Its rule is a predicate over the profile and event aggregates
        (docs/predicates.md), type-checked here; `refresh` re-evaluates time-based rules on a schedule."""
        problems = predicate_problems("$.rule", body.rule, profile_scope(store, who.workspace))
        if problems:
            raise Invalid(f"segment {name!r} has a rule that does not check", problems)
        segment = SegmentDefinition(name, body.rule, body.refresh, body.description)
        if store.put_segment(who.workspace, segment, actor=who.actor, at=time.time()):
            response.status_code = 201
        return segment_out(segment)

    @router.delete("/segments/{name}", status_code=204, tags=["segments"])
    def delete_segment(*, name: Name, who: Who, store: Store) -> None:
        store.delete_segment(who.workspace, name, actor=who.actor, at=time.time())

    # --- offers ----------------------------------------------------------------------------------------

    @router.get("/offers", response_model=Page[OfferOut], tags=["offers"])
    def list_offers(
        *,
        limit: Limit = 50,
        offset: Offset = 0,
        who: Who,
        store: Store,
    ) -> Any:
        offers = store.offers(who.workspace, limit=limit + 1, offset=offset)
        return _page([offer_out(o) for o in offers], limit, offset)

    @router.get("/offers/{name}", response_model=OfferOut, tags=["offers"])
    def get_offer(*, name: Name, who: Who, store: Store) -> OfferOut:
        offer = store.offer(who.workspace, name)
        if offer is None:
            raise NotFound(f"offer {name!r} not found in workspace {who.workspace!r}")
        return offer_out(offer)

    @router.put("/offers/{name}", response_model=OfferOut, tags=["offers"])
    def put_offer(
        *,
        name: Name,
        body: OfferIn,
        response: Response,
        who: Who,
        store: Store,
    ) -> OfferOut:
        """Create or replace an offer that `decide` nodes choose from; `eligible` is type-checked and the
        template it names must exist."""
        problems: list[ProblemAt] = []
        if body.eligible is not None:
            problems += predicate_problems("$.eligible", body.eligible, profile_scope(store, who.workspace))
        if body.template is not None and store.template(who.workspace, body.template) is None:
            problems.append(
                ProblemAt(
                    "$.template",
                    f"template {body.template!r} does not exist",
                    "create it first (PUT /templates)",
                )
            )
        if problems:
            raise Invalid(f"offer {name!r} has problems", problems)
        at = time.time()
        if store.put_offer(who.workspace, name, body.model_dump(), actor=who.actor, at=at):
            response.status_code = 201
        return OfferOut(name=name, updated_at=at, **body.model_dump())

    @router.delete("/offers/{name}", status_code=204, tags=["offers"])
    def delete_offer(*, name: Name, who: Who, store: Store) -> None:
        store.delete_offer(who.workspace, name, actor=who.actor, at=time.time())

    # --- templates -------------------------------------------------------------------------------------

    @router.get("/templates", response_model=Page[TemplateOut], tags=["templates"])
    def list_templates(
        *,
        limit: Limit = 50,
        offset: Offset = 0,
        who: Who,
        store: Store,
    ) -> Any:
        templates = store.templates(who.workspace, limit=limit + 1, offset=offset)
        return _page([template_out(t) for t in templates], limit, offset)

    @router.get("/templates/{name}", response_model=TemplateOut, tags=["templates"])
    def get_template(*, name: Name, who: Who, store: Store) -> TemplateOut:
        template = store.template(who.workspace, name)
        if template is None:
            raise NotFound(f"template {name!r} not found in workspace {who.workspace!r}")
        return template_out(template)

    @router.put("/templates/{name}", response_model=TemplateOut, tags=["templates"])
    def put_template(
        *,
        name: Name,
        body: TemplateIn,
        response: Response,
        who: Who,
        store: Store,
    ) -> TemplateOut:
        """Create or replace a message template: a channel and its parts; the rest of the document is kept
        as given for the delivery layer."""
        document = body.model_dump(mode="json")
        at = time.time()
        if store.put_template(who.workspace, name, document, actor=who.actor, at=at):
            response.status_code = 201
        return template_out(NamedDocument(name, document, at))

    @router.delete("/templates/{name}", status_code=204, tags=["templates"])
    def delete_template(*, name: Name, who: Who, store: Store) -> None:
        store.delete_template(who.workspace, name, actor=who.actor, at=time.time())

    # --- the tracking plan -----------------------------------------------------------------------------

    @router.get("/tracking-plan", response_model=TrackingPlanOut, tags=["tracking plan"])
    def get_tracking_plan(*, who: Who, store: Store) -> TrackingPlanOut:
        """The current tracking plan."""
        plans = store.tracking_plans(who.workspace, limit=1)
        if not plans:
            raise NotFound(f"workspace {who.workspace!r} has no tracking plan yet: PUT one")
        return TrackingPlanOut(
            version=plans[0].version, document=plans[0].document, created_at=plans[0].created_at
        )

    @router.put("/tracking-plan", response_model=TrackingPlanOut, tags=["tracking plan"])
    def put_tracking_plan(*, body: TrackingPlanIn, who: Who, store: Store) -> TrackingPlanOut:
        """Replace the tracking plan with a new version (docs/ingest.md); refused listing every problem."""
        check_tracking_plan(body.document)
        at = time.time()
        version = store.put_tracking_plan(who.workspace, body.document, actor=who.actor, at=at)
        return TrackingPlanOut(version=version, document=body.document, created_at=at)

    @router.get("/tracking-plan/versions", response_model=Page[TrackingPlanOut], tags=["tracking plan"])
    def list_tracking_plans(
        *,
        limit: Limit = 50,
        offset: Offset = 0,
        who: Who,
        store: Store,
    ) -> Any:
        """Every version of the tracking plan, newest first."""
        plans = store.tracking_plans(who.workspace, limit=limit + 1, offset=offset)
        items = [
            TrackingPlanOut(version=p.version, document=p.document, created_at=p.created_at) for p in plans
        ]
        return _page(items, limit, offset)
