"""What ingestion can refuse, and how a single problem is reported.

A whole request is refused with an `IngestError` (the HTTP layer answers with its `status`); a single bad
message inside a request is not an error at all but a `Rejected` entry listing its `Issue`s, so that one bad
event never costs the good ones.

RumboError
└── IngestError             a request could not be read (carries the HTTP status to answer with)
    ├── Unauthorized        no write key, or a malformed Authorization header                  (401)
    ├── PayloadTooLarge     the body, compressed or expanded, is over the configured limit     (413)
    ├── UnsupportedEncoding a Content-Encoding other than gzip or identity                      (415)
    ├── PayloadInvalid      the body is not JSON, or not the object the endpoint expects         (400)
    └── TrackingPlanInvalid a tracking plan document has problems (every one listed)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rumbo.errors import RumboError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Issue:
    """One thing wrong with a payload: the JSON path where it is, and what was wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def under(self, base: str) -> Issue:
        """The same issue with its path re-rooted from `$` to `base` (e.g. `$.batch[3]`)."""
        return Issue(base + self.path[1:], self.message)


def child(path: str, key: str | int) -> str:
    """The JSON path of `key` inside `path`: `$.a`, `$.a[3]`, or `$["odd key"]` when a key needs quoting."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{path}["{escaped}"]'


class IngestError(RumboError):
    """A request was refused as a whole; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, issues: tuple[Issue, ...] = ()) -> None:
        self.message = message
        self.issues = issues
        text = message
        if issues:
            text += "\n" + "\n".join(f"  {issue}" for issue in issues)
        super().__init__(text)


class Unauthorized(IngestError):
    """No usable write key came with the request."""

    status = 401


class PayloadTooLarge(IngestError):
    """The body is over a size limit; refused before it was fully read or expanded."""

    status = 413


class UnsupportedEncoding(IngestError):
    """The body is compressed with something other than gzip."""

    status = 415


class PayloadInvalid(IngestError):
    """The body is not JSON, or not shaped as the endpoint expects; every problem is listed."""

    status = 400


class TrackingPlanInvalid(IngestError):
    """A tracking plan document has problems; all of them are listed with their paths."""

    status = 400
