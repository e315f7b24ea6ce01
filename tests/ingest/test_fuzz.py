"""Whatever arrives, ingestion answers with a result or one of its own errors, never anything else."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rumbo.ingest import (
    ENDPOINTS,
    IngestError,
    IngestResult,
    IngestSettings,
    MemoryDeadLetters,
    TrackingPlan,
    ingest_payload,
    ingest_request,
)
from rumbo.records import CHANNELS, FIELDS

SMALL = IngestSettings(max_message_bytes=2_000, max_batch_bytes=20_000)
KEYS = st.sampled_from(
    ["type", "event", "userId", "anonymousId", "messageId", "timestamp", "originalTimestamp", "sentAt",
     "properties", "traits", "context", "integrations", "groupId", "previousId", "name", "category",
     "batch", "writeKey", "channel", "campaign", "medium", "x"]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        ["track", "identify", "page", "screen", "group", "alias", "2026-11-23T10:00:00Z", "email"]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=30,
)
# Messages close to valid ones, so that the acceptance path is fuzzed too, not only the first refusal.
VALUES = st.sampled_from(
    ["u1", "track", "identify", "page", "screen", "group", "alias", "2026-11-23T10:00:00Z"]
)
MESSAGE = st.dictionaries(KEYS, VALUES | JSON, max_size=8).map(
    lambda m: {"type": "track", "userId": "u", **m}
)
PLANS = [
    TrackingPlan.from_document(
        {
            "unplanned": unplanned,
            "events": {
                "track": {"mode": "block", "schema": {"properties": {"properties": {"required": ["x"]}}}}
            },
            "calls": {
                "identify": {"mode": "block", "schema": {"properties": {"traits": {"type": "object"}}}}
            },
        }
    )
    for unplanned in ("warn", "block")
]


def check_result(result: IngestResult) -> None:
    for accepted in result.accepted:
        assert list(accepted.record) == list(FIELDS["event"])
        assert accepted.record["channel"] in CHANNELS
        assert isinstance(accepted.record["messageId"], str) and accepted.record["messageId"]
        assert isinstance(accepted.record["timestamp"], float)
    for rejected in result.rejected:
        assert rejected.issues and all(issue.path.startswith(rejected.path) for issue in rejected.issues)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    plan=st.sampled_from(PLANS),
    payload=JSON
    | MESSAGE
    | st.builds(lambda items, extra: {**extra, "batch": items}, st.lists(MESSAGE, max_size=4), MESSAGE),
)
def test_random_json_payloads_never_raise_anything_but_ingest_errors(
    endpoint: str, plan: TrackingPlan, payload: Any
) -> None:
    try:
        result = ingest_payload(
            endpoint,
            payload,
            workspace="w",
            received_at=1.8e9,
            plan=plan,
            dead_letters=MemoryDeadLetters(),
            settings=SMALL,
        )
    except IngestError:
        return
    check_result(result)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    messages=st.lists(JSON, max_size=5),
    raw=st.binary(max_size=64),
    how=st.sampled_from(["json", "gzip", "raw", "gzip-raw"]),
    authorization=st.sampled_from([None, "Basic azo=", "Basic", "Bearer x", "Basic ###"])
    | st.text(max_size=12),
)
def test_random_bodies_and_headers_never_raise_anything_but_ingest_errors(
    endpoint: str, messages: list[Any], raw: bytes, how: str, authorization: str | None
) -> None:
    try:
        document = orjson.dumps(
            {"batch": messages, "writeKey": "k"} if endpoint == "batch" else (messages or [{}])[0]
        )
    except orjson.JSONEncodeError:
        document = b"{}"
    body = {"json": document, "gzip": gzip.compress(document), "raw": raw, "gzip-raw": raw}[how]
    headers = {"Content-Encoding": "gzip"} if how.startswith("gzip") else {}
    if authorization is not None:
        headers["Authorization"] = authorization
    try:
        result = ingest_request(
            endpoint, body, headers, workspace_of={"k": "w"}, received_at=1.8e9, settings=SMALL
        )
    except IngestError:
        return
    check_result(result)
