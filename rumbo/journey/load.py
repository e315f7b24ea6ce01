"""Loading journey files: one call for the CLI, the runtime and the tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rumbo.errors import JourneyInvalid, Problem
from rumbo.journey.build import build_journey, check_document
from rumbo.journey.catalog import Catalog
from rumbo.journey.document import Document, load_document
from rumbo.journey.model import Journey

JOURNEY_SUFFIXES = (".yaml", ".yml", ".json")


def load_journey(path: str | Path, catalog: Catalog | None = None, version: int = 1) -> Journey:
    """Read, validate and compile one journey file; raises JourneyInvalid listing every problem."""
    return build_journey(load_document(path), catalog, version)


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and the journey files inside any directory given."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in JOURNEY_SUFFIXES))
        else:
            out.append(path)
    return out


def load_journeys(paths: Iterable[str | Path], catalog: Catalog | None = None) -> list[Journey]:
    """Several journeys that may start one another; every problem of every file is raised together."""
    files = expand(paths)
    documents: list[Document] = []
    problems: list[Problem] = []
    for file in files:
        try:
            documents.append(load_document(file))
        except JourneyInvalid as exc:
            problems.extend(exc.problems)
    ids = frozenset(d.data["journey"] for d in documents if isinstance(d.data, dict) and "journey" in d.data)
    # Journeys that start one another are checked against each other when validated as a set.
    shared = (catalog or Catalog()).merged(Catalog(journeys=ids)) if len(documents) > 1 else catalog
    journeys = []
    for document in documents:
        try:
            journeys.append(build_journey(document, shared))
        except JourneyInvalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise JourneyInvalid(problems)
    return journeys


def validate_files(paths: Iterable[str | Path], catalog: Catalog | None = None) -> list[Problem]:
    """Every problem in the given files (and directories), [] when all are valid."""
    try:
        load_journeys(paths, catalog)
    except JourneyInvalid as exc:
        return exc.problems
    return []


__all__ = ["check_document", "expand", "load_journey", "load_journeys", "validate_files"]
