"""Ingesting one request to a Segment-compatible endpoint, from raw bytes to accepted and rejected events.

`ingest_request` is the whole path an HTTP handler needs: it reads the body (size limit, gzip, JSON),
finds the write key, and hands the payload to `ingest_payload`. Both are pure: the caller passes the time
the request was received, so a request read twice gives the same result.

A request is refused as a whole (an `IngestError`) only when it cannot be read at all: no write key, too
large, not JSON, or a batch without a `batch` list. Otherwise each message stands alone: the good ones are
accepted, the bad ones rejected with every problem by JSON path (`$.batch[3].event: required for track`),
and those the tracking plan blocks go to the dead-letter store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from rumbo.ingest.body import expand, header, parse_json, write_key
from rumbo.ingest.deadletters import DeadLetterStore
from rumbo.ingest.errors import PayloadInvalid, Unauthorized
from rumbo.ingest.messages import CALLS, Shared, describe, normalise
from rumbo.ingest.plan import TrackingPlan
from rumbo.ingest.result import Accepted, DeadLetter, IngestResult
from rumbo.ingest.settings import IngestSettings

ENDPOINTS: Final = (*CALLS, "batch")
_DEFAULT_SETTINGS: Final = IngestSettings()


@dataclass(frozen=True, slots=True)
class Request:
    """A request that could be read: its write key and its JSON payload."""

    write_key: str
    payload: dict[str, Any]


def read_request(
    endpoint: str, body: bytes, headers: Mapping[str, str], settings: IngestSettings = _DEFAULT_SETTINGS
) -> Request:
    """The write key and payload of a request to `/v1/<endpoint>`, or an `IngestError` saying why not."""
    if endpoint not in ENDPOINTS:
        raise PayloadInvalid(f"/v1/{endpoint} is not an endpoint; use one of {', '.join(ENDPOINTS)}")
    limit = settings.max_batch_bytes if endpoint == "batch" else settings.max_message_bytes
    payload = parse_json(expand(body, header(headers, "content-encoding"), limit))
    if not isinstance(payload, dict):
        raise PayloadInvalid(f"the body must be a JSON object, got {describe(payload)}")
    return Request(write_key(headers, payload), payload)


def ingest_payload(
    endpoint: str,
    payload: Any,
    *,
    workspace: str,
    received_at: float,
    plan: TrackingPlan | None = None,
    dead_letters: DeadLetterStore | None = None,
    settings: IngestSettings = _DEFAULT_SETTINGS,
) -> IngestResult:
    """Check, normalise and judge the messages of one parsed payload.

    For `batch`, the messages are `payload["batch"]` with the payload's `context`, `integrations` and
    `sentAt` applying to each; for a single call the payload is the message and the endpoint its type.
    Blocked events are added to `dead_letters` when one is given, and listed in the result either way.
    """
    if endpoint not in ENDPOINTS:
        raise PayloadInvalid(f"/v1/{endpoint} is not an endpoint; use one of {', '.join(ENDPOINTS)}")
    if not isinstance(payload, dict):
        raise PayloadInvalid(f"the body must be a JSON object, got {describe(payload)}")
    result = IngestResult()
    if endpoint == "batch":
        items = payload.get("batch")
        if not isinstance(items, list):
            got = "nothing" if items is None else describe(items)
            raise PayloadInvalid(f"$.batch must be a list of messages, got {got}")
        shared = Shared.of(payload, workspace, received_at, settings.max_message_bytes)
        for index, item in enumerate(items):
            outcome = normalise(item, path=f"$.batch[{index}]", call=None, shared=shared, index=index)
            _settle(outcome, result, plan, dead_letters)
    else:
        # The write key is a credential, not part of the event: it is never stored with it.
        message = {key: value for key, value in payload.items() if key != "writeKey"}
        shared = Shared(workspace, received_at, settings.max_message_bytes)
        outcome = normalise(message, path="$", call=endpoint, shared=shared, index=0)
        _settle(outcome, result, plan, dead_letters)
    return result


def ingest_request(
    endpoint: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    workspace_of: Mapping[str, str],
    received_at: float,
    plan: TrackingPlan | None = None,
    dead_letters: DeadLetterStore | None = None,
    settings: IngestSettings = _DEFAULT_SETTINGS,
) -> IngestResult:
    """Read a request and ingest its payload for the workspace its write key belongs to.

    `workspace_of` maps write keys to workspaces (the store's key table, or a dict in tests).
    """
    request = read_request(endpoint, body, headers, settings)
    workspace = workspace_of.get(request.write_key)
    if workspace is None:
        raise Unauthorized("the write key is not known; use the write key of a workspace")
    return ingest_payload(
        endpoint,
        request.payload,
        workspace=workspace,
        received_at=received_at,
        plan=plan,
        dead_letters=dead_letters,
        settings=settings,
    )


def _settle(
    outcome: Any, result: IngestResult, plan: TrackingPlan | None, dead_letters: DeadLetterStore | None
) -> None:
    if not isinstance(outcome, Accepted):
        result.rejected.append(outcome)
        return
    if plan is None:
        result.accepted.append(outcome)
        return
    rule, mode, violations = plan.judge(outcome.message)
    if violations:
        result.violations[rule] += len(violations)
    if mode == "block" and violations:
        letter = DeadLetter(
            outcome.message["messageId"],
            outcome.record["workspace"],
            rule,
            outcome.record,
            outcome.message,
            tuple(violations),
            outcome.record["received_at"],
        )
        result.blocked.append(letter)
        result.block_issues.extend(issue.under(outcome.path) for issue in violations)
        if dead_letters is not None:
            dead_letters.add(letter)
        return
    warnings = tuple(issue.under(outcome.path) for issue in violations) if mode == "warn" else ()
    result.accepted.append(Accepted(outcome.path, outcome.record, outcome.message, warnings))
