"""Segments as code: segment definitions in YAML or JSON files that `rumbo serve --segments FILE` makes live
in every workspace, next to the journeys of `--journeys`, reviewed in git like them.

A file holds one or more segments by name:

    segments:
      vip:
        rule: "profile.traits.loyalty_tier == 'gold' and count('order_completed', within='90d') >= 3"
        description: Gold-tier customers who buy often
      lapsing:
        rule: "count('order_completed', within='365d') > 0 and count('order_completed', within='30d') == 0"
        refresh: 1d

`rule` is a predicate over the profile and the kept event aggregates (docs/predicates.md); `refresh` (a
duration) re-judges every customer on that period, which rules that depend on time passing need; without
it a customer is judged again whenever something about them changes. A segment defined over the management
API under the same name takes precedence in its workspace, as a published journey version does over a
file's. Every problem in every file is reported at once, with its file, line and path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rumbo.durations import parse_duration
from rumbo.errors import DurationInvalid, JourneyInvalid, Problem, ProblemsFound
from rumbo.expr import Scope
from rumbo.expr.expression import check
from rumbo.journey.document import Document, load_document
from rumbo.store.catalog import SegmentDefinition

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")  # as the management API accepts
FIELDS = frozenset({"rule", "refresh", "description"})
LONGEST_REFRESH = 366 * 86400.0


class SegmentFilesInvalid(ProblemsFound):
    """Segment files with one or more problems; all of them are listed."""

    heading = "segment files have {count} problem{s}"


def load_segment_files(paths: Iterable[str | Path]) -> list[SegmentDefinition]:
    """The segments the files define, in file order; raises SegmentFilesInvalid listing every problem."""
    documents, problems = [], []
    for path in paths:
        try:
            documents.append(load_document(path))
        except JourneyInvalid as exc:  # unreadable, not UTF-8, not YAML/JSON: reported the journeys' way
            problems += exc.problems
    entries: list[tuple[Document, str, Any]] = []
    seen: dict[str, str] = {}
    for document in documents:
        data = document.data
        if not isinstance(data, dict) or set(data) != {"segments"} or not isinstance(data["segments"], dict):
            problems.append(
                document.problem((), "a segment file is a mapping with one key, segments", _EXAMPLE)
            )
            continue
        for name, body in data["segments"].items():
            where = f"{document.file}:{document.marks.get(('segments', name), ('?',))[0]}"
            if not isinstance(name, str) or not NAME.match(name):
                problems.append(
                    document.problem(
                        ("segments", name),
                        f"{name!r} is not a segment name",
                        "start with a letter or _, then letters, digits, _ . or -, up to 100 characters",
                    )
                )
            elif name in seen:
                problems.append(
                    document.problem(
                        ("segments", name), f"segment {name!r} is defined twice (also {seen[name]})"
                    )
                )
            else:
                seen[name] = where
                entries.append((document, name, body))
    segments = []
    for document, name, body in entries:
        segment = _segment(document, name, body, problems)
        if segment is not None:
            segments.append(segment)
    if problems:
        raise SegmentFilesInvalid(problems)
    return segments


_EXAMPLE = "e.g. segments: {vip: {rule: \"count('order_completed', within='90d') >= 3\"}}"


def _segment(document: Document, name: str, body: Any, problems: list[Problem]) -> SegmentDefinition | None:
    at = ("segments", name)
    if not isinstance(body, dict):
        problems.append(document.problem(at, "a segment is a mapping with a rule", _EXAMPLE))
        return None
    found = len(problems)
    for unknown in sorted(set(map(str, body)) - FIELDS):
        problems.append(
            document.problem(
                (*at, unknown), f"unknown field {unknown!r}", "a segment has rule, refresh, description"
            )
        )
    rule = body.get("rule")
    if not isinstance(rule, str) or not rule.strip():
        problems.append(document.problem((*at, "rule"), "the rule is missing or not text", _EXAMPLE))
    else:
        # Segments may use one another; rules over segments defined only over the API are not known here.
        for error in check(rule, Scope(has_event=False)):
            problems.append(
                document.problem((*at, "rule"), f"{error.message} (column {error.column + 1})", error.hint)
            )
    refresh = _refresh(document, at, body.get("refresh"), problems)
    description = body.get("description", "")
    if not isinstance(description, str):
        problems.append(document.problem((*at, "description"), "the description is not text"))
    if len(problems) > found:
        return None
    assert isinstance(rule, str)
    return SegmentDefinition(name, rule, refresh, str(description))


def _refresh(document: Document, at: tuple[str, str], value: Any, problems: list[Problem]) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except DurationInvalid:
        seconds = -1.0
    if not 0 < seconds <= LONGEST_REFRESH:
        problems.append(
            document.problem(
                (*at, "refresh"), f"{value!r} is not a refresh period", "a duration up to 366d, e.g. 1d"
            )
        )
        return None
    return seconds
