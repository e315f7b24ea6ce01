"""What the management API can refuse, and the one JSON shape every refusal has.

RumboError
└── ManageError              a request was refused (carries the HTTP status to answer with)
    ├── Unauthenticated      no key, or a key no workspace has                           (401)
    ├── Forbidden            a write key where an admin key is needed; no instance token (403)
    ├── NotFound             the object named does not exist in this workspace            (404)
    ├── Conflict             it exists already, changed meanwhile, or is in the wrong state (409)
    └── Invalid              the request or document has problems, every one listed      (422)

Store errors are mapped at the edge (`from_store_error`): CatalogNotFound is a 404, a StoreConflict a 409,
StoreUnavailable a 503 that says to retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rumbo.errors import RumboError
from rumbo.store.catalog import CatalogNotFound, CatalogValueInvalid
from rumbo.store.errors import StoreConflict, StoreError, StoreUnavailable


@dataclass(frozen=True, slots=True)
class ProblemAt:
    """One problem in a request: its JSON path, what was wrong, what to do, and (for documents) where."""

    path: str
    message: str
    hint: str | None = None
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
            "line": self.line,
            "column": self.column,
        }


class ManageError(RumboError):
    status = 400

    def __init__(self, message: str, problems: Sequence[ProblemAt] = ()) -> None:
        self.message = message
        self.problems = list(problems)
        lines = "".join(f"\n  {p.path}: {p.message}" for p in self.problems)
        super().__init__(message + lines)

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "problems": [p.to_dict() for p in self.problems]}


class Unauthenticated(ManageError):
    status = 401


class Forbidden(ManageError):
    status = 403


class NotFound(ManageError):
    status = 404


class Conflict(ManageError):
    status = 409


class Invalid(ManageError):
    status = 422


class Unavailable(ManageError):
    status = 503


def from_store_error(exc: StoreError) -> ManageError:
    """The HTTP refusal a store error means."""
    if isinstance(exc, CatalogNotFound):
        return NotFound(str(exc))
    if isinstance(exc, CatalogValueInvalid):
        return Invalid(str(exc))
    if isinstance(exc, StoreConflict):
        return Conflict(str(exc))
    if isinstance(exc, StoreUnavailable):
        return Unavailable(f"{exc} — the database is busy or unreachable; retry shortly")
    return Unavailable(str(exc))
