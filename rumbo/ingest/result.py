"""What ingesting a request produced: accepted events, rejected messages, dead letters and counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rumbo.ingest.errors import Issue


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message that passed: `record` has exactly the columns of `FIELDS["event"]`; `message` is the
    whole normalised Segment message (with `previousId`, `groupId`, `name`, `originalTimestamp`,
    `sentAt`, `receivedAt`, `integrations`, ...) for identity resolution and the event log.
    `warnings` are tracking-plan violations of an event whose rule is in `warn` mode."""

    path: str
    record: dict[str, Any]
    message: dict[str, Any]
    warnings: tuple[Issue, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that could not be accepted, with every problem found in it."""

    path: str
    issues: tuple[Issue, ...]
    message: Any = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the tracking plan blocked, kept with the reasons so that it can be replayed later.

    `reasons` are rooted at the message itself (`$.properties.value`), since the request is gone.
    """

    id: str  # the messageId
    workspace: str
    rule: str  # the plan rule that blocked it: a track event name, or a call type such as "identify"
    record: dict[str, Any]
    message: dict[str, Any]
    reasons: tuple[Issue, ...]
    at: float  # when it was received


@dataclass(slots=True)
class IngestResult:
    """Everything one request produced; a batch can have all three kinds at once."""

    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    blocked: list[DeadLetter] = field(default_factory=list)
    # Tracking-plan violations by rule, counted in every mode (allow included).
    violations: Counter[str] = field(default_factory=Counter)
    # The reasons of the blocked events, rooted in the request (`$.batch[3].properties.value`).
    block_issues: list[Issue] = field(default_factory=list)

    @property
    def issues(self) -> list[Issue]:
        """Every problem reported back to the sender: rejections, blocks and warnings, in order."""
        found = [issue for rejected in self.rejected for issue in rejected.issues]
        found += self.block_issues
        found += [issue for accepted in self.accepted for issue in accepted.warnings]
        return found
