"""The checks a catalogue change passes before it is stored, each listing every problem by JSON path.

Journeys are checked as `rumbo journey validate` checks them, against the workspace's own catalogue: the
events its tracking plan names (with property types read from the plan's schemas), its segments and its
journeys. Segment rules and offer eligibility are type-checked with rumbo.expr; tracking plans go through
TrackingPlan.from_document; a migration mapping must name nodes that exist on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from rumbo.errors import JourneyInvalid, Problem
from rumbo.expr import Scope, Type, check
from rumbo.ingest.errors import TrackingPlanInvalid
from rumbo.ingest.plan import TrackingPlan
from rumbo.journey.build import check_document
from rumbo.journey.catalog import BUILTIN_EVENTS, Catalog
from rumbo.journey.document import Document, parse_document
from rumbo.manage.errors import Invalid, ProblemAt
from rumbo.store.catalog import CatalogStore

_JSON_TYPES = {
    "string": Type.STRING,
    "number": Type.NUMBER,
    "integer": Type.NUMBER,
    "boolean": Type.BOOL,
    "object": Type.OBJECT,
    "array": Type.LIST,
}


def problem_at(problem: Problem) -> ProblemAt:
    return ProblemAt(problem.path, problem.message, problem.hint, problem.line, problem.column)


@dataclass(frozen=True, slots=True)
class ParsedJourney:
    """A journey document as text, parsed, with its id (None when it has no usable `journey:` field)."""

    text: str
    document: Document
    journey: str | None


def parse_journey(text: str) -> ParsedJourney:
    """Parse YAML/JSON journey text; a document that does not parse or names no journey is Invalid."""
    try:
        document = parse_document(text, "document")
    except JourneyInvalid as exc:
        raise Invalid("the journey document does not parse", [problem_at(p) for p in exc.problems]) from exc
    except yaml.YAMLError as exc:
        # parse_document turns syntax errors into problems, but not the reader's refusal of control
        # characters, which has no line mark.
        hint = "remove control characters; a journey is printable YAML or JSON text"
        raise Invalid(
            "the journey document does not parse", [ProblemAt("$", str(exc).splitlines()[0], hint)]
        ) from exc
    data = document.data
    name = data.get("journey") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        line, column = document.marks.get((), (None, None))
        raise Invalid(
            "the journey document names no journey",
            [
                ProblemAt(
                    "$.journey",
                    "missing or not text",
                    "start the document with `journey: <id>`",
                    line,
                    column,
                )
            ],
        )
    return ParsedJourney(text, document, name)


def plan_events(plan: Any) -> dict[str, dict[str, Type]]:
    """Event names a tracking plan document declares, with the property types its schemas give."""
    if not isinstance(plan, Mapping):
        return {}
    events: dict[str, dict[str, Type]] = {}
    for name, rule in (plan.get("events") or {}).items():
        props: dict[str, Type] = {}
        schema = rule.get("schema") if isinstance(rule, Mapping) else None
        properties = _walk(schema, "properties", "properties", "properties")
        if isinstance(properties, Mapping):
            for prop, spec in properties.items():
                kind = spec.get("type") if isinstance(spec, Mapping) else None
                props[str(prop)] = _JSON_TYPES.get(kind, Type.ANY) if isinstance(kind, str) else Type.ANY
        events[str(name)] = props
    return events


def _walk(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def workspace_catalog(store: CatalogStore, workspace: str, journey: str) -> Catalog:
    """What a journey of this workspace may name beyond its own declarations."""
    return Catalog(
        events=plan_events(store.tracking_plan(workspace)),
        segments=frozenset(s.name for s in store.segments(workspace)),
        journeys=frozenset([*store.journey_names(workspace), journey]),
    )


def journey_problems(store: CatalogStore, workspace: str, parsed: ParsedJourney) -> list[ProblemAt]:
    """Every problem of a journey document against the workspace's catalogue ([] when it can go live)."""
    catalog = workspace_catalog(store, workspace, parsed.journey or "")
    return [problem_at(p) for p in check_document(parsed.document, catalog)]


def predicate_problems(path: str, source: str, scope: Scope) -> list[ProblemAt]:
    return [
        ProblemAt(path, f"{e.message} (column {e.column + 1} of {source!r})", e.hint)
        for e in check(source, scope)
    ]


def profile_scope(store: CatalogStore, workspace: str) -> Scope:
    """What a rule over one customer (no triggering event) may read: traits, aggregates, segments."""
    plan = store.tracking_plan(workspace)
    known = frozenset(plan_events(plan)) | BUILTIN_EVENTS if plan is not None else None
    return Scope(
        has_event=False,
        known_events=known,
        segments=frozenset(s.name for s in store.segments(workspace)),
    )


def check_tracking_plan(document: Any) -> None:
    try:
        TrackingPlan.from_document(document)
    except TrackingPlanInvalid as exc:
        raise Invalid(exc.message, [ProblemAt(i.path, i.message) for i in exc.issues]) from exc


def node_ids(document_text: str) -> set[str]:
    data = parse_document(document_text).data
    nodes = data.get("nodes") if isinstance(data, dict) else None
    return set(nodes) if isinstance(nodes, dict) else set()


def mapping_problems(
    in_flight: str, mapping: Mapping[str, str], old_nodes: set[str], new_nodes: set[str]
) -> list[ProblemAt]:
    """A migration mapping must lead from nodes of earlier versions to nodes of the new one."""
    if mapping and in_flight != "migrate":
        message = f"a node mapping applies only to in_flight 'migrate', not {in_flight!r}"
        return [ProblemAt("$.mapping", message, "drop the mapping, or set in_flight to 'migrate'")]
    problems = []
    for old, new in mapping.items():
        if old not in old_nodes:
            problems.append(
                ProblemAt(f"$.mapping.{old}", f"no published version has a node {old!r}", _options(old_nodes))
            )
        if new not in new_nodes:
            problems.append(
                ProblemAt(f"$.mapping.{old}", f"the draft has no node {new!r}", _options(new_nodes))
            )
    return problems


def _options(nodes: Iterable[str]) -> str:
    return "nodes are: " + ", ".join(sorted(nodes)) if nodes else "there are no nodes to map"
