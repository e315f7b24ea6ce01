"""What a file import did: rows read, imported, already there, and rejected, grouped by reason with lines.

Rejections are grouped by what went wrong, not by the offending value, so that ten thousand rows with a
bad `total` make one line of the report (with the first lines where it happened and one full example)
rather than ten thousand. Every rejected row, with its own full reason, is in the rejects file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

_KEEP_LINES: Final = 10  # lines kept per reason; the rejects file has them all
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\b\d[\d,.]*\b")


def reason_key(reason: str) -> str:
    """A reason with its quoted values and numbers blanked out, so that rows failing alike group."""
    return _LITERAL.sub("…", reason)


@dataclass(slots=True)
class Reason:
    """One kind of rejection: how many rows, the first of their lines, and one reason in full."""

    example: str
    count: int = 0
    lines: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ImportReport:
    file: Path
    format: str
    workspace: str
    dry_run: bool = False
    read: int = 0
    imported: int = 0  # new events in the log (in a dry run: events that would be offered to it)
    duplicates: int = 0  # rows whose messageId the log already had (or an earlier row of the file)
    rejected: int = 0  # rows not imported: unreadable, unmappable, invalid, refused by identity, or blocked
    blocked: int = 0  # of the rejected, those the tracking plan blocked (replayable dead letters)
    warnings: int = 0  # imported rows with tracking-plan violations in warn mode
    reasons: dict[str, Reason] = field(default_factory=dict)
    folded: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejects_file: Path | None = None
    seconds: float = 0.0
    stopped: str | None = None  # why the import stopped before the end of the file

    def reject(self, line: int | None, reason: str) -> None:
        """Count one rejected row under its reason."""
        self.rejected += 1
        key = reason_key(reason)
        found = self.reasons.get(key)
        if found is None:
            found = self.reasons[key] = Reason(reason)
        found.count += 1
        if line is not None and len(found.lines) < _KEEP_LINES:
            found.lines.append(line)

    @property
    def rate(self) -> float:
        """Rows read per second."""
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "format": self.format,
            "workspace": self.workspace,
            "dry_run": self.dry_run,
            "read": self.read,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "blocked": self.blocked,
            "warnings": self.warnings,
            "reasons": [
                {"reason": key, "count": r.count, "lines": r.lines, "example": r.example}
                for key, r in sorted(self.reasons.items(), key=lambda item: -item[1].count)
            ],
            "into_properties_or_traits": self.folded,
            "ignored_columns": self.ignored,
            "notes": self.notes,
            "rejects_file": None if self.rejects_file is None else str(self.rejects_file),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rate),
            "stopped": self.stopped,
        }
