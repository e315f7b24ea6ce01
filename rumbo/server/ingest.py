"""The Segment-compatible ingestion endpoints: `/v1/track`, `/identify`, `/page`, `/screen`, `/group`,
`/alias` and `/batch`, authenticated by a workspace write key exactly as Segment's (HTTP Basic with the key
as user name, or `writeKey` in the body), gzip bodies included.

Answers: 200 `{"success": true}` when every message was accepted; a batch with some bad messages is still
a 200, naming each rejected message's problems by JSON path (the good ones are durable, the bad ones kept as
dead letters with their reasons); 400 when nothing could be accepted, listing every problem; 401 for an
unknown key; 413 for a body over the limit. The body is read as bytes and parsed by rumbo (not by the web
framework), so limits, gzip and error paths are the same as everywhere else in rumbo.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from rumbo.ingest import (
    ENDPOINTS,
    DeadLetter,
    IngestError,
    Issue,
    Rejected,
    Unauthorized,
    ingest_payload,
    read_request,
)
from rumbo.runtime.service import Service
from rumbo.server.keys import KeyCache

_MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "event": {"type": "string"},
        "userId": {"type": ["string", "null"]},
        "anonymousId": {"type": ["string", "null"]},
        "messageId": {"type": "string"},
        "timestamp": {"type": "string"},
        "properties": {"type": "object"},
        "traits": {"type": "object"},
        "context": {"type": "object"},
    },
}
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {"batch": {"type": "array", "items": _MESSAGE_SCHEMA}, "context": {"type": "object"}},
}
# One valid call per endpoint, shown in the OpenAPI document (and sent first by schema-driven fuzzers).
_EXAMPLES: dict[str, dict[str, Any]] = {
    "track": {"userId": "ana", "event": "cart_abandoned", "properties": {"value": 60}},
    "identify": {"userId": "ana", "traits": {"email": "ana@example.com", "plan": "pro"}},
    "page": {"userId": "ana", "name": "Pricing", "properties": {"url": "https://example.com/pricing"}},
    "screen": {"userId": "ana", "name": "Home"},
    "group": {"userId": "ana", "groupId": "acme", "traits": {"name": "Acme"}},
    "alias": {"previousId": "anon-7f3a", "userId": "ana"},
}
_EXAMPLES["batch"] = {
    "batch": [{"type": "track", **_EXAMPLES["track"]}, {"type": "identify", **_EXAMPLES["identify"]}]
}
_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "accepted": {"type": "integer"},
        "rejected": {"type": "array", "items": {"type": "object"}},
        "error": {"type": "string"},
    },
}


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _issues(issues: list[Issue]) -> list[dict[str, str]]:
    return [{"path": issue.path, "message": issue.message} for issue in issues]


def _letter(workspace: str, rejected: Rejected, received_at: float) -> DeadLetter:
    """A rejected message kept with its reasons, so that `rumbo deadletters` shows it and nothing is lost."""
    message = rejected.message if isinstance(rejected.message, dict) else {"value": rejected.message}
    message_id = message.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        digest = hashlib.sha256(orjson.dumps(message, default=str)).hexdigest()[:24]
        message_id = f"rejected-{digest}"
    reasons = tuple(Issue("$" + issue.path[len(rejected.path) :], issue.message) for issue in rejected.issues)
    return DeadLetter(message_id, workspace, "rejected", {}, message, reasons, received_at)


def ingest_router(service: Service, keys: KeyCache) -> APIRouter:
    router = APIRouter(tags=["ingestion"])

    async def ingest(endpoint: str, request: Request) -> Response:
        received_at = time.time()
        body = await request.body()
        try:
            parsed = read_request(endpoint, body, request.headers, service.config.ingest)
            match = keys.find(parsed.write_key)
            if match is None:
                raise Unauthorized("the write key is not known; use the write key of a workspace")
            workspace = match.workspace
            result = ingest_payload(
                endpoint,
                parsed.payload,
                workspace=workspace,
                received_at=received_at,
                plan=service.tracking_plan(workspace),
                settings=service.config.ingest,
            )
        except IngestError as exc:
            return _json(exc.status, {"success": False, "error": str(exc)})
        letters = [*result.blocked, *(_letter(workspace, r, received_at) for r in result.rejected)]
        assert service.appender is not None, "the service is not started"
        intake = await asyncio.wrap_future(
            service.appender.submit(workspace, result.accepted, letters, received_at)
        )
        issues = result.issues + [issue for _, r in intake.rejected for issue in r.issues]
        accepted = len(result.accepted) - len(intake.rejected)
        if accepted == 0 and issues:
            return _json(400, {"success": False, "accepted": 0, "rejected": _issues(issues)})
        answer: dict[str, Any] = {"success": True, "accepted": accepted}
        if issues:
            answer["rejected"] = _issues(issues)
        return _json(200, answer)

    for name in ENDPOINTS:
        schema = _BATCH_SCHEMA if name == "batch" else _MESSAGE_SCHEMA

        async def endpoint(request: Request, name: str = name) -> Response:
            return await ingest(name, request)

        router.add_api_route(
            f"/v1/{name}",
            endpoint,
            methods=["POST"],
            name=f"ingest_{name}",
            summary=f"Segment-compatible {name} call",
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": schema, "example": _EXAMPLES[name]}},
                },
                "security": [{"writeKey": []}],
                "responses": {
                    str(code): {
                        "description": why,
                        "content": {"application/json": {"schema": _ANSWER_SCHEMA}},
                    }
                    for code, why in (
                        (200, "accepted (a batch may list rejected messages)"),
                        (400, "nothing could be accepted: every problem by JSON path"),
                        (401, "unknown write key"),
                        (413, "body over the size limit"),
                        (415, "unsupported Content-Encoding"),
                    )
                },
            },
        )
    return router
