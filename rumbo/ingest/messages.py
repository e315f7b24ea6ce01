"""One Segment message checked and normalised: every problem listed by path, or an event record.

The checks follow Segment's HTTP API spec and what the official SDKs send (`segment-analytics-python`
and `rudder-sdk-python`, `client.py`): every call but `alias` needs `userId` or `anonymousId`; `track`
needs `event`; `group` needs `groupId`; `alias` needs `previousId` and `userId`. Ids may be strings or
numbers (the SDKs accept both and send strings). `properties`, `traits`, `context` and `integrations`
are objects; times are ISO 8601 strings. A `null` optional field counts as absent. Unknown fields are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from rumbo.ingest.channels import channel_of
from rumbo.ingest.errors import Issue, child
from rumbo.ingest.result import Accepted, Rejected
from rumbo.ingest.timestamps import event_time, iso, parse_time

CALLS: Final = ("track", "identify", "page", "screen", "group", "alias")
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "track": ("event",),
    "group": ("groupId",),
    "alias": ("previousId", "userId"),
}
OBJECTS: Final = ("properties", "traits", "context", "integrations")
TEXTS: Final = ("event", "name", "category")
IDS: Final = ("userId", "anonymousId", "groupId", "previousId", "messageId")
TIMES: Final = ("timestamp", "originalTimestamp", "sentAt")


def describe(value: Any) -> str:
    """A short description of a JSON value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"the string {text}" if isinstance(value, str) else f"the number {text}"


def _ident(value: Any) -> str | None:
    """An id as the SDKs send it: a non-empty string, or a number turned into one."""
    if isinstance(value, str):
        return value if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def check(message: dict[str, Any], call: str, times: dict[str, float] | None = None) -> list[Issue]:
    """Every problem in a message whose call type is known, with paths rooted at the message (`$`).

    The times it parses on the way are put in `times`, so that they are parsed once.
    """
    issues: list[Issue] = []
    for name in OBJECTS:
        value = message.get(name)
        if value is not None and not isinstance(value, dict):
            issues.append(Issue(child("$", name), f"must be an object, got {describe(value)}"))
    for name in TEXTS:
        value = message.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            issues.append(Issue(child("$", name), f"must be a non-empty string, got {describe(value)}"))
    for name in IDS:
        value = message.get(name)
        if value is not None and _ident(value) is None:
            issues.append(
                Issue(child("$", name), f"must be a non-empty string or a number, got {describe(value)}")
            )
    for name in TIMES:
        value = message.get(name)
        if value is None:
            continue
        seconds = parse_time(value)
        if seconds is not None:
            if times is not None:
                times[name] = seconds
        else:
            issues.append(
                Issue(
                    child("$", name),
                    f"must be an ISO 8601 date-time between the years 1900 and 2199 such as "
                    f"'2026-11-23T10:00:00.000Z', got {describe(value)}",
                )
            )
    for name in REQUIRED.get(call, ()):
        if message.get(name) is None:
            issues.append(Issue(child("$", name), f"required for {call}"))
    if call != "alias" and message.get("userId") is None and message.get("anonymousId") is None:
        issues.append(Issue("$.userId", f"required for {call} when there is no anonymousId"))
    return issues


@dataclass(frozen=True, slots=True)
class Shared:
    """What every message of one request shares, worked out once for the request."""

    workspace: str
    received_at: float
    max_bytes: int
    context: dict[str, Any] | None = None  # the batch's, under each message's own
    integrations: dict[str, Any] | None = None
    sent_at: float | None = None  # the batch's sentAt, parsed
    sent_at_raw: Any = None  # as sent, to report when it is not a time
    received_iso: str = field(init=False)
    sent_iso: str | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "received_iso", iso(self.received_at))
        object.__setattr__(self, "sent_iso", None if self.sent_at is None else iso(self.sent_at))

    @classmethod
    def of(cls, payload: Mapping[str, Any], workspace: str, received_at: float, max_bytes: int) -> Shared:
        """The shared part of a batch payload (top-level `context`, `integrations` and `sentAt`)."""
        context, integrations = payload.get("context"), payload.get("integrations")
        sent = payload.get("sentAt")
        return cls(
            workspace,
            received_at,
            max_bytes,
            context if isinstance(context, dict) else None,
            integrations if isinstance(integrations, dict) else None,
            parse_time(sent),
            sent,
        )


def _merged(message: dict[str, Any], shared: Shared) -> dict[str, Any]:
    """The message with the batch's `context` and `integrations` under its own (the message's keys win)."""
    merged = dict(message)
    for name, common in (("context", shared.context), ("integrations", shared.integrations)):
        own = message.get(name)
        if common is not None and (own is None or isinstance(own, dict)):
            merged[name] = {**common, **(own or {})}
    return merged


def generated_message_id(workspace: str, canonical: bytes, index: int, received_at: float | None) -> str:
    """A messageId for a message that came without one, the same every time the same request is read.

    It hashes the workspace, the message as sent, and its place in the batch, so a retried request
    deduplicates; `received_at` joins the hash only when the message carries no time of its own, since two
    identical timeless messages are two events.
    """
    digest = hashlib.sha256()
    digest.update(workspace.encode())
    digest.update(b"\x00%d\x00" % index)
    digest.update(canonical)
    if received_at is not None:
        digest.update(b"\x00" + repr(received_at).encode())
    return "rumbo-" + digest.hexdigest()[:32]


def normalise(item: Any, *, path: str, call: str | None, shared: Shared, index: int) -> Accepted | Rejected:
    """Check one message and, if it passes, make its event record.

    `call` is the endpoint's call type, or None in a batch where each message names its own `type`.
    """
    if not isinstance(item, dict):
        return Rejected(path, (Issue(path, f"a message must be a JSON object, got {describe(item)}"),), item)
    try:
        size = len(orjson.dumps(item))
    except orjson.JSONEncodeError:
        return Rejected(path, (Issue(path, "the message holds a value JSON cannot carry"),), item)
    if size > shared.max_bytes:
        limit = shared.max_bytes
        issue = Issue(path, f"the message is {size:,} bytes, over the {limit:,}-byte limit per message")
        return Rejected(path, (issue,), None)
    kind = call if call is not None else item.get("type")
    if kind not in CALLS:
        why = "required" if kind is None else f"{describe(kind)} is not a call type"
        issue = Issue(child(path, "type"), f"{why} — use one of {', '.join(CALLS)}")
        return Rejected(path, (issue,), item)
    assert isinstance(kind, str)
    times: dict[str, float] = {}
    issues = check(item, kind, times)
    if item.get("sentAt") is None and shared.sent_at_raw is not None and shared.sent_at is None:
        got = describe(shared.sent_at_raw)
        issues.append(Issue("$.sentAt", f"must be an ISO 8601 date-time, got {got}"))
    if issues:
        return Rejected(path, tuple(issue.under(path) for issue in issues), item)
    return Accepted(path, *_normalised(item, kind, shared, times, index))


def _normalised(
    item: dict[str, Any], kind: str, shared: Shared, times: dict[str, float], index: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    message = _merged(item, shared)
    message["type"] = kind
    for name in IDS:
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            message[name] = _ident(value)
    original = times.get("timestamp", times.get("originalTimestamp"))
    sent_at = times.get("sentAt", shared.sent_at)
    received_at = shared.received_at
    if message.get("messageId") is None:
        body = {key: value for key, value in item.items() if key != "messageId"}
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        message["messageId"] = generated_message_id(
            shared.workspace, canonical, index, received_at if original is None else None
        )
    at = event_time(original, sent_at, received_at)
    if original is not None:
        message["originalTimestamp"] = iso(original)
    if sent_at is not None:
        message["sentAt"] = iso(sent_at) if "sentAt" in times else shared.sent_iso
    message["timestamp"] = iso(at)
    message["receivedAt"] = shared.received_iso
    customer = message.get("userId") or message.get("anonymousId")
    return event_record(shared.workspace, message, customer, at, received_at), message


def event_record(
    workspace: str, message: dict[str, Any], customer: str | None, at: float, received_at: float
) -> dict[str, Any]:
    """A normalised message as an `event` record (the columns of `FIELDS["event"]`): what intake hands on,
    and what the archive exporter writes, with the customer identity resolution settled on."""
    kind = message.get("type")
    return {
        "workspace": workspace,
        "customer": customer,
        "messageId": message["messageId"],
        "type": kind,
        "event": message.get("event") if kind == "track" else None,
        "userId": message.get("userId"),
        "anonymousId": message.get("anonymousId"),
        "channel": channel_of(message),
        "timestamp": at,
        "received_at": received_at,
        "properties": message.get("properties") or {},
        "traits": message.get("traits") or {},
        "context": message.get("context") or {},
    }
