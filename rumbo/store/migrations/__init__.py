"""Versioned schema migrations, one SQL file per version and dialect: `<dialect>/NNNN_<name>.sql`.

A migration is never edited once released; a change to the schema is a new file with the next number,
written for both dialects so the two stores keep the same tables. `schema_version` records which ones a
database has had.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

Dialect = Literal["sqlite", "postgres"]

_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


@cache
def migrations(dialect: Dialect) -> tuple[Migration, ...]:
    """The migrations of a dialect in version order; versions run 1, 2, 3 … without gaps."""
    found = []
    for entry in resources.files(__package__).joinpath(dialect).iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        text = entry.read_text(encoding="utf-8")
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        # Statements end with ';' and the files hold no string literals that contain one.
        statements = tuple(s.strip() for s in body.split(";") if s.strip())
        found.append(Migration(int(match.group(1)), match.group(2), statements))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)


def latest(dialect: Dialect) -> int:
    """The schema version this rumbo writes."""
    return len(migrations(dialect))
