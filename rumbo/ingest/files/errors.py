"""What can stop a file import as a whole. A single bad row never does: it is rejected with its reasons.

RumboError
└── ImportFileError      the import cannot start or go on (names the file, and the line or key)
    ├── MappingInvalid   the column mapping has problems: an unknown field or type, a column the file lacks
    └── FileUnreadable   the file is missing, not of its format, or unreadable from some point on
"""

from __future__ import annotations

from rumbo.errors import RumboError


class ImportFileError(RumboError):
    """An import could not start, or could not go on; the message says where and what to do."""


class MappingInvalid(ImportFileError):
    """The column mapping (a YAML file or `--map` options) cannot be applied to the file."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        count = len(problems)
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{source}: {count} problem{'s' if count != 1 else ''} in the mapping:\n{lines}")


class FileUnreadable(ImportFileError):
    """The file cannot be read (at all, or from one point on)."""
