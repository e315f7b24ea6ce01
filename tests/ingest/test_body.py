"""Reading requests: the write key as Segment takes it, gzip with a bounded expansion, size limits, JSON."""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib

import orjson
import pytest

from rumbo.ingest import (
    IngestSettings,
    PayloadInvalid,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedEncoding,
    read_request,
)
from rumbo.ingest.body import expand, write_key, write_key_from_authorization
from rumbo.ingest.settings import SettingInvalid
from tests.ingest.sdk_payloads import (
    WRITE_KEY,
    basic_auth,
    gzipped,
    rudder_batch,
    rudder_track,
    segment_batch,
    segment_track,
)


def test_basic_auth_carries_the_write_key_as_the_user_name() -> None:
    # base64("abc:") is "YWJjOg==": the header Segment's docs show for write key "abc".
    assert write_key_from_authorization("Basic YWJjOg==") == "abc"
    assert write_key_from_authorization("basic YWJjOg==") == "abc"
    # A password, if a client sends one, is not part of the key.
    assert write_key_from_authorization("Basic " + base64.b64encode(b"abc:secret").decode()) == "abc"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("Bearer token", "'Bearer' scheme"),
        ("Basic !!!not-base64", "not base64"),
        ("Basic " + base64.b64encode(b":").decode(), "empty user name"),
        ("Basic " + base64.b64encode(b"\xff\xfe:").decode(), "not base64"),
    ],
)
def test_bad_authorization_is_refused_with_what_to_send(value: str, fragment: str) -> None:
    with pytest.raises(Unauthorized, match=fragment) as caught:
        write_key_from_authorization(value)
    assert caught.value.status == 401


def test_write_key_from_the_body_when_there_is_no_header() -> None:
    assert write_key({}, {"writeKey": "abc"}) == "abc"
    assert write_key({"AUTHORIZATION": "Basic YWJjOg=="}, {}) == "abc"
    # The Segment SDK sends both, and they agree.
    assert write_key({"Authorization": basic_auth()}, segment_batch()) == WRITE_KEY


def test_no_key_or_two_different_keys_are_refused() -> None:
    with pytest.raises(Unauthorized, match="no write key"):
        write_key({}, {"batch": []})
    with pytest.raises(Unauthorized, match="differ"):
        write_key({"Authorization": "Basic YWJjOg=="}, {"writeKey": "xyz"})
    with pytest.raises(Unauthorized, match="non-empty string"):
        write_key({}, {"writeKey": 12})


def test_a_gzipped_rudder_request_reads_like_the_plain_one() -> None:
    payload = rudder_batch(rudder_track())
    headers = {"Content-Encoding": "gzip", "Authorization": basic_auth()}
    request = read_request("batch", gzipped(payload), headers)
    assert request.write_key == WRITE_KEY
    assert request.payload == payload


def test_several_gzip_members_are_read_one_after_the_other() -> None:
    # RFC 1952: a gzip file is a series of members; `cat a.gz b.gz` decompresses to a + b.
    body = gzip.compress(b'{"batch": [') + gzip.compress(b"]}")
    assert expand(body, "gzip", 1000) == b'{"batch": []}'


def test_a_gzip_bomb_is_refused_without_being_expanded() -> None:
    # 200 MB of zeros compress to about 200 KB: under the 500 KB body limit, far over it expanded.
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = b"".join(bomb.compress(bytes(1 << 20)) for _ in range(200)) + bomb.flush()
    assert len(body) < IngestSettings().max_batch_bytes
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match="expands past the 512,000-byte limit") as caught:
            read_request("batch", body, {"Content-Encoding": "gzip", "Authorization": basic_auth()})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Expanding it in full would take 200 MB; refusing it must stay near the limit.
    assert peak < 4 * 1024 * 1024
    assert caught.value.status == 413


def test_a_body_over_the_limit_is_refused_before_reading_it() -> None:
    settings = IngestSettings(max_message_bytes=1000, max_batch_bytes=5000)
    message = orjson.dumps({**segment_track(), "properties": {"note": "x" * 3000}, "writeKey": "k"})
    assert len(message) > 1000 > len(gzip.compress(message))
    with pytest.raises(PayloadTooLarge, match="over the 1,000-byte limit"):
        read_request("track", message, {}, settings)
    with pytest.raises(PayloadTooLarge, match="expands past the 1,000-byte limit"):
        read_request("track", gzip.compress(message), {"content-encoding": "gzip"}, settings)
    # The batch limit is the larger one.
    batch = orjson.dumps({"batch": [orjson.loads(message)], "writeKey": "k"})
    assert read_request("batch", batch, {}, settings).write_key == "k"


@pytest.mark.parametrize(
    ("body", "encoding", "error", "fragment"),
    [
        (b"{}", "br", UnsupportedEncoding, "'br' is not supported"),
        (b"not gzip at all", "gzip", PayloadInvalid, "does not decompress"),
        (gzip.compress(b'{"batch": []}')[:-6], "gzip", PayloadInvalid, "truncated"),
        (b'{"batch": [', None, PayloadInvalid, "not valid UTF-8 JSON"),
        (b'{"a": "\xff"}', None, PayloadInvalid, "not valid UTF-8 JSON"),
        (b"[1, 2]", None, PayloadInvalid, "must be a JSON object, got a list"),
    ],
)
def test_unreadable_bodies_are_refused_with_the_reason(
    body: bytes, encoding: str | None, error: type[Exception], fragment: str
) -> None:
    headers = {"Authorization": basic_auth()}
    if encoding:
        headers["Content-Encoding"] = encoding
    with pytest.raises(error, match=fragment):
        read_request("batch", body, headers)


def test_an_unknown_endpoint_is_refused() -> None:
    with pytest.raises(PayloadInvalid, match="/v1/import is not an endpoint"):
        read_request("import", b"{}", {})


def test_plain_segment_request_round_trips() -> None:
    payload = segment_batch(segment_track())
    request = read_request("batch", orjson.dumps(payload), {"Authorization": basic_auth()})
    assert request.payload == payload


def test_limits_are_settings_with_segments_values_by_default() -> None:
    assert IngestSettings() == IngestSettings(max_message_bytes=32 * 1024, max_batch_bytes=500 * 1024)
    with pytest.raises(SettingInvalid, match="max_message_bytes=0"):
        IngestSettings(max_message_bytes=0)
