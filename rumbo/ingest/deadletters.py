"""The dead-letter store: events the tracking plan blocked, kept with the reason until they are replayed.

A store is a small protocol so that the runtime can back it with SQLite or PostgreSQL; `MemoryDeadLetters`
is the implementation for tests and the embedded pipeline. Letters are keyed by (workspace, messageId), so
blocking the same message twice keeps one letter.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Protocol

from rumbo.ingest.plan import TrackingPlan
from rumbo.ingest.result import Accepted, DeadLetter


class DeadLetterStore(Protocol):
    """Where blocked events wait: add them, list them, discard the ones that were released."""

    def add(self, letter: DeadLetter) -> None:
        """Keep a letter; a letter with the same workspace and id replaces the old one."""

    def letters(self, workspace: str, rule: str | None = None) -> list[DeadLetter]:
        """The workspace's letters, oldest first; only those of one plan rule when `rule` is given."""

    def discard(self, workspace: str, ids: Collection[str]) -> None:
        """Forget the letters with these ids (they were replayed into the event log)."""


class MemoryDeadLetters:
    """A dead-letter store in a dict; for tests and for running embedded."""

    def __init__(self) -> None:
        self._letters: dict[tuple[str, str], DeadLetter] = {}

    def add(self, letter: DeadLetter) -> None:
        self._letters[(letter.workspace, letter.id)] = letter

    def letters(self, workspace: str, rule: str | None = None) -> list[DeadLetter]:
        found = [
            letter
            for (space, _), letter in self._letters.items()
            if space == workspace and (rule is None or letter.rule == rule)
        ]
        return sorted(found, key=lambda letter: (letter.at, letter.id))

    def discard(self, workspace: str, ids: Collection[str]) -> None:
        for letter_id in ids:
            self._letters.pop((workspace, letter_id), None)


@dataclass(slots=True)
class Replayed:
    """What a replay did: the events now accepted, and the letters the plan still blocks."""

    released: list[Accepted] = field(default_factory=list)
    kept: list[DeadLetter] = field(default_factory=list)


def replay(store: DeadLetterStore, workspace: str, plan: TrackingPlan, rule: str | None = None) -> Replayed:
    """Judge the workspace's dead letters again under `plan` (typically after it was fixed).

    Letters the plan now lets through are returned as accepted events (with warnings in `warn` mode) and
    discarded from the store; the others stay, their reasons updated to the new plan's.
    """
    result = Replayed()
    released = []
    for letter in store.letters(workspace, rule):
        _, mode, violations = plan.judge(letter.message)
        if mode == "block" and violations:
            kept = replace(letter, reasons=tuple(violations))
            store.add(kept)
            result.kept.append(kept)
            continue
        warnings = tuple(violations) if mode == "warn" else ()
        result.released.append(Accepted("$", letter.record, letter.message, warnings))
        released.append(letter.id)
    store.discard(workspace, released)
    return result
