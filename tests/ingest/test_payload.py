"""Messages as the SDKs send them become event records; every bad message is rejected with every problem."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from rumbo.ingest import (
    IngestSettings,
    PayloadInvalid,
    Unauthorized,
    ingest_payload,
    ingest_request,
)
from rumbo.records import FIELDS
from tests.ingest.sdk_payloads import (
    WRITE_KEY,
    basic_auth,
    gzipped,
    rudder_batch,
    rudder_track,
    segment_alias,
    segment_batch,
    segment_group,
    segment_identify,
    segment_page,
    segment_screen,
    segment_track,
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


RECEIVED = at("2026-11-23T10:00:06")


def batch(payload: dict[str, Any], **kwargs: Any) -> Any:
    return ingest_payload("batch", payload, workspace="acme", received_at=RECEIVED, **kwargs)


def issues(result: Any) -> list[str]:
    return [str(issue) for issue in result.issues]


def test_every_call_the_segment_sdk_makes_is_accepted_as_an_event_record() -> None:
    calls = [
        segment_track(),
        segment_identify(),
        segment_page(),
        segment_screen(),
        segment_group(),
        segment_alias(),
    ]
    result = batch(segment_batch(*calls))
    assert result.rejected == [] and issues(result) == []
    assert [a.path for a in result.accepted] == [f"$.batch[{i}]" for i in range(6)]
    assert [a.record["type"] for a in result.accepted] == [
        "track",
        "identify",
        "page",
        "screen",
        "group",
        "alias",
    ]
    for accepted in result.accepted:
        assert list(accepted.record) == list(FIELDS["event"])
    track = result.accepted[0].record
    # sentAt 10:00:05.000, received 10:00:06 by the server: the clocks agree up to a 1 s transit, so the
    # event time is the client's 10:00:00.250 shifted by that second.
    assert track == {
        "workspace": "acme",
        "customer": "f4ca124298",
        "messageId": "8f4a8b8e-4b1f-4d8e-9a8e-0c6f7a3b2d11",
        "type": "track",
        "event": "Signed Up",
        "userId": "f4ca124298",
        "anonymousId": None,
        "channel": "other",
        "timestamp": at("2026-11-23T10:00:01.250"),
        "received_at": RECEIVED,
        "properties": {"plan": "Enterprise"},
        "traits": {},
        "context": {"library": {"name": "analytics-python", "version": "2.3.3"}},
    }
    identify = result.accepted[1].record
    assert identify["traits"] == {"email": "ana@example.com", "plan": "Enterprise"}
    assert identify["event"] is None
    screen = result.accepted[3]
    assert screen.record["customer"] == "a1b2" and screen.record["userId"] is None
    assert screen.record["channel"] == "app" and result.accepted[2].record["channel"] == "web"
    # The SDK sends a numeric group id as a number; rumbo keeps ids as strings.
    assert result.accepted[4].message["groupId"] == "42"
    alias = result.accepted[5].message
    assert alias["previousId"] == "anon-7" and alias["userId"] == "f4ca124298"
    page = result.accepted[2].message
    assert page["name"] == "Python" and page["category"] == "Docs"
    assert page["originalTimestamp"] == "2026-11-23T10:00:01.000Z"
    assert page["sentAt"] == "2026-11-23T10:00:05.000Z" and page["receivedAt"] == "2026-11-23T10:00:06.000Z"
    assert page["timestamp"] == "2026-11-23T10:00:02.000Z"


def test_a_rudder_request_over_http_is_accepted_with_its_key() -> None:
    headers = {"Content-Encoding": "gzip", "Authorization": basic_auth()}
    result = ingest_request(
        "batch",
        gzipped(rudder_batch(rudder_track())),
        headers,
        workspace_of={WRITE_KEY: "acme"},
        received_at=RECEIVED,
    )
    (accepted,) = result.accepted
    assert accepted.record["workspace"] == "acme"
    assert accepted.record["messageId"] == "c0ffee00-1234-4abc-8def-000000000001"
    # `channel: server` says where the call came from, not which channel: the rule falls through to other.
    assert accepted.record["channel"] == "other"
    with pytest.raises(Unauthorized, match="write key is not known"):
        ingest_request("batch", gzipped(rudder_batch()), headers, workspace_of={}, received_at=RECEIVED)


def test_a_fast_client_clock_is_corrected_by_sent_at() -> None:
    # The client's clock runs one hour fast: it stamps the event 11:00:00 and sends it at 11:00:05 (its
    # time); the server receives it at 10:00:06. The event happened 5 s before sending: at 10:00:01.
    message = {"type": "track", "event": "x", "userId": "u", "timestamp": "2026-11-23T11:00:00Z"}
    result = batch({"batch": [message], "sentAt": "2026-11-23T11:00:05Z"})
    assert result.accepted[0].record["timestamp"] == at("2026-11-23T10:00:01")
    # A message's own sentAt (analytics.js puts one on each) wins over the batch's.
    own = {**message, "sentAt": "2026-11-23T11:00:02Z"}
    result = batch({"batch": [own], "sentAt": "2026-11-23T11:00:05Z"})
    assert result.accepted[0].record["timestamp"] == at("2026-11-23T10:00:04")


def test_without_sent_at_the_client_time_stands_and_without_a_time_the_receipt_time() -> None:
    result = batch(
        {"batch": [{"type": "track", "event": "x", "userId": "u", "timestamp": "2026-11-20T08:30:00+01:00"}]}
    )
    assert result.accepted[0].record["timestamp"] == at("2026-11-20T07:30:00")
    # RudderStack's JavaScript SDKs name the client time originalTimestamp.
    result = batch(
        {
            "batch": [
                {"type": "track", "event": "x", "userId": "u", "originalTimestamp": "2026-11-20T07:30:00"}
            ]
        }
    )
    assert result.accepted[0].record["timestamp"] == at("2026-11-20T07:30:00")
    result = batch({"batch": [{"type": "track", "event": "x", "userId": "u"}]})
    assert result.accepted[0].record["timestamp"] == RECEIVED


def test_the_batch_context_and_integrations_apply_to_every_message_under_their_own() -> None:
    payload = {
        "batch": [
            {"type": "track", "event": "a", "userId": "u", "context": {"ip": "10.0.0.1"}},
            {"type": "track", "event": "b", "userId": "u", "integrations": {"All": False}},
        ],
        "context": {"ip": "10.0.0.9", "locale": "es-ES"},
        "integrations": {"All": True, "Mixpanel": False},
    }
    first, second = (a.message for a in batch(payload).accepted)
    assert first["context"] == {"ip": "10.0.0.1", "locale": "es-ES"}
    assert first["integrations"] == {"All": True, "Mixpanel": False}
    assert second["integrations"] == {"All": False, "Mixpanel": False}


def test_a_missing_message_id_is_generated_the_same_way_for_the_same_request() -> None:
    message = {"type": "track", "event": "x", "userId": "u", "timestamp": "2026-11-23T09:00:00Z"}
    payload = {"batch": [message, dict(message)]}
    first = [a.record["messageId"] for a in batch(payload).accepted]
    again = [
        a.record["messageId"]
        for a in ingest_payload("batch", payload, workspace="acme", received_at=RECEIVED + 60).accepted
    ]
    # A retry later gives the same ids (so it deduplicates); two identical messages in one batch differ.
    assert first == again and first[0] != first[1]
    assert all(mid.startswith("rumbo-") and len(mid) == 38 for mid in first)
    other = ingest_payload("batch", payload, workspace="other", received_at=RECEIVED).accepted[0]
    assert other.record["messageId"] != first[0]
    # A message without a time of its own is a new event each time it is received.
    timeless = {"batch": [{"type": "track", "event": "x", "userId": "u"}]}
    ids = {
        ingest_payload("batch", timeless, workspace="acme", received_at=t).accepted[0].record["messageId"]
        for t in (1.8e9, 1.8e9 + 1)
    }
    assert len(ids) == 2


def test_single_call_endpoints_take_the_type_from_the_endpoint_and_drop_the_write_key() -> None:
    body = {"event": "Signed Up", "userId": 97, "writeKey": "k", "properties": {"plan": "Pro"}}
    result = ingest_payload("track", body, workspace="acme", received_at=RECEIVED)
    (accepted,) = result.accepted
    assert accepted.path == "$" and accepted.record["type"] == "track"
    assert accepted.record["userId"] == "97" and accepted.record["customer"] == "97"
    assert "writeKey" not in accepted.message
    bad = ingest_payload("track", {"userId": "u"}, workspace="acme", received_at=RECEIVED)
    assert issues(bad) == ["$.event: required for track"]


def test_one_bad_event_in_a_batch_never_rejects_the_good_ones() -> None:
    good = segment_track()
    payload = segment_batch(
        good, {"type": "track", "userId": "u"}, segment_identify(), "oops", segment_alias()
    )
    result = batch(payload)
    assert [a.path for a in result.accepted] == ["$.batch[0]", "$.batch[2]", "$.batch[4]"]
    assert [r.path for r in result.rejected] == ["$.batch[1]", "$.batch[3]"]
    assert issues(result) == [
        "$.batch[1].event: required for track",
        "$.batch[3]: a message must be a JSON object, got the string 'oops'",
    ]


TIME_HINT = "must be an ISO 8601 date-time between the years 1900 and 2199 such as '2026-11-23T10:00:00.000Z'"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {"event": "x", "userId": "u"},
            ["$.batch[0].type: required — use one of track, identify, page, screen, group, alias"],
        ),
        (
            {"type": "purchase", "userId": "u"},
            [
                "$.batch[0].type: the string 'purchase' is not a call type — "
                "use one of track, identify, page, screen, group, alias"
            ],
        ),
        ({"type": "track", "userId": "u"}, ["$.batch[0].event: required for track"]),
        (
            {"type": "track", "event": ""},
            [
                "$.batch[0].event: must be a non-empty string, got the string ''",
                "$.batch[0].userId: required for track when there is no anonymousId",
            ],
        ),
        (
            {"type": "identify", "traits": {"a": 1}},
            ["$.batch[0].userId: required for identify when there is no anonymousId"],
        ),
        ({"type": "group", "userId": "u"}, ["$.batch[0].groupId: required for group"]),
        (
            {"type": "alias", "anonymousId": "a"},
            ["$.batch[0].previousId: required for alias", "$.batch[0].userId: required for alias"],
        ),
        (
            {"type": "track", "event": "x", "userId": True},
            ["$.batch[0].userId: must be a non-empty string or a number, got true"],
        ),
        (
            {"type": "track", "event": "x", "anonymousId": ["a"]},
            ["$.batch[0].anonymousId: must be a non-empty string or a number, got a list"],
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "messageId": {}},
            ["$.batch[0].messageId: must be a non-empty string or a number, got an object"],
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "properties": []},
            ["$.batch[0].properties: must be an object, got a list"],
        ),
        (
            {"type": "identify", "userId": "u", "traits": "vip"},
            ["$.batch[0].traits: must be an object, got the string 'vip'"],
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "context": 3},
            ["$.batch[0].context: must be an object, got the number 3"],
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "integrations": False},
            ["$.batch[0].integrations: must be an object, got false"],
        ),
        (
            {"type": "page", "userId": "u", "name": 5, "category": ""},
            [
                "$.batch[0].name: must be a non-empty string, got the number 5",
                "$.batch[0].category: must be a non-empty string, got the string ''",
            ],
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "timestamp": "yesterday"},
            [f"$.batch[0].timestamp: {TIME_HINT}, got the string 'yesterday'"],
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "timestamp": 1795435200},
            [f"$.batch[0].timestamp: {TIME_HINT}, got the number 1795435200"],
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "originalTimestamp": "1066-10-14T09:00:00Z"},
            [f"$.batch[0].originalTimestamp: {TIME_HINT}, got the string '1066-10-14T09:00:00Z'"],
        ),
        (
            {"type": "track", "event": "x", "userId": "u", "sentAt": "soon"},
            [f"$.batch[0].sentAt: {TIME_HINT}, got the string 'soon'"],
        ),
    ],
)
def test_every_problem_is_reported_by_path(message: dict[str, Any], expected: list[str]) -> None:
    result = batch({"batch": [message]})
    assert result.accepted == []
    assert issues(result) == expected


def test_all_problems_of_one_message_are_listed_together() -> None:
    message = {"type": "track", "properties": 1, "traits": [], "timestamp": "x", "anonymousId": False}
    assert issues(batch({"batch": [message]})) == [
        "$.batch[0].properties: must be an object, got the number 1",
        "$.batch[0].traits: must be an object, got a list",
        "$.batch[0].anonymousId: must be a non-empty string or a number, got false",
        f"$.batch[0].timestamp: {TIME_HINT}, got the string 'x'",
        "$.batch[0].event: required for track",
    ]


def test_a_bad_batch_sent_at_rejects_the_messages_that_would_use_it() -> None:
    own = {"type": "track", "event": "x", "userId": "u", "sentAt": "2026-11-23T10:00:00Z"}
    result = batch({"batch": [{"type": "track", "event": "x", "userId": "u"}, own], "sentAt": "later"})
    assert [a.path for a in result.accepted] == ["$.batch[1]"]
    assert issues(result) == ["$.batch[0].sentAt: must be an ISO 8601 date-time, got the string 'later'"]


def test_an_oversize_message_in_a_batch_is_rejected_alone() -> None:
    settings = IngestSettings(max_message_bytes=32 * 1024)
    big = {"type": "track", "event": "x", "userId": "u", "properties": {"blob": "x" * (32 * 1024)}}
    size = len(orjson.dumps(big))
    result = batch({"batch": [segment_track(), big]}, settings=settings)
    assert [a.path for a in result.accepted] == ["$.batch[0]"]
    assert issues(result) == [
        f"$.batch[1]: the message is {size:,} bytes, over the 32,768-byte limit per message"
    ]
    # The rejected entry does not keep the oversize body.
    assert result.rejected[0].message is None


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, r"\$.batch must be a list of messages, got nothing"),
        ({"batch": {"type": "track"}}, r"\$.batch must be a list of messages, got an object"),
        ([], "must be a JSON object, got a list"),
    ],
)
def test_a_batch_without_a_list_is_refused_whole(payload: Any, fragment: str) -> None:
    with pytest.raises(PayloadInvalid, match=fragment):
        batch(payload)


def test_an_empty_batch_is_accepted_with_nothing_in_it() -> None:
    result = batch({"batch": []})
    assert result.accepted == [] and result.rejected == []
