"""Reading a request the way Segment's API does: the write key, gzip, the size limit and the JSON.

Segment authenticates with HTTP Basic, the write key as the user name and an empty password
(`segment-analytics-python` sends `Basic base64("<writeKey>:")`, `rudder-sdk-python` uses
`HTTPBasicAuth(write_key, "")`); a `writeKey` field in the body is accepted instead, and the Segment SDK
sends both. Bodies may be gzip-compressed (`Content-Encoding: gzip`, RudderStack's default): they are
expanded in bounded steps, so a small body that expands past the limit (a "zip bomb") is refused after
at most `limit + 1` bytes have been produced, never expanded in full.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from rumbo.ingest.errors import PayloadInvalid, PayloadTooLarge, Unauthorized, UnsupportedEncoding

# Expanding in slices keeps memory bounded by the limit whatever the compressed input claims.
_CHUNK = 64 * 1024


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, found whatever the case of its name (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def write_key_from_authorization(value: str) -> str:
    """The write key in an `Authorization: Basic ...` header: the user name, the password ignored."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized(
            f"Authorization uses the {scheme!r} scheme; send the workspace write key with HTTP Basic: "
            "the write key as the user name and an empty password"
        )
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized(
            "the Basic credentials are not base64 of 'writeKey:' — encode the write key followed by a colon"
        ) from exc
    key, _, _password = decoded.partition(":")
    if not key:
        raise Unauthorized("the Basic credentials carry an empty user name; put the write key there")
    return key


def write_key(headers: Mapping[str, str], payload: Any) -> str:
    """The request's write key: from Basic auth, else from `writeKey` in the body.

    When both are given they must agree, since a request cannot belong to two workspaces.
    """
    authorization = header(headers, "authorization")
    in_body = payload.get("writeKey") if isinstance(payload, dict) else None
    if in_body is not None and (not isinstance(in_body, str) or not in_body):
        raise Unauthorized("$.writeKey must be a non-empty string: the workspace write key")
    if authorization is None:
        if in_body is None:
            raise Unauthorized(
                "no write key: send it with HTTP Basic auth (the write key as the user name, empty "
                "password) or as `writeKey` in the body"
            )
        return in_body
    key = write_key_from_authorization(authorization)
    if in_body is not None and in_body != key:
        raise Unauthorized(
            "the write key in the Authorization header and $.writeKey differ; "
            "send one key, or the same key in both"
        )
    return key


def expand(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body as sent before compression, refusing anything over `limit` bytes on either side."""
    if len(body) > limit:
        raise PayloadTooLarge(f"the body is {len(body):,} bytes, over the {limit:,}-byte limit")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedEncoding(
            f"Content-Encoding {content_encoding!r} is not supported; send the body as is or gzip-compressed"
        )
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes:
    out = bytearray()
    rest = body
    # A gzip file may hold several members one after the other; `gzip -c a b` makes one.
    while rest:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        pending = rest
        try:
            while pending and not inflater.eof:
                out += inflater.decompress(pending, min(_CHUNK, limit + 1 - len(out)))
                _check_expanded(len(out), limit)
                pending = inflater.unconsumed_tail
            while not inflater.eof:
                # Output still buffered inside zlib (highly compressible input): drain it in bounded steps.
                piece = inflater.decompress(b"", min(_CHUNK, limit + 1 - len(out)))
                if not piece:
                    break
                out += piece
                _check_expanded(len(out), limit)
        except zlib.error as exc:
            raise PayloadInvalid(f"the body is marked gzip but does not decompress: {exc}") from exc
        if not inflater.eof:
            raise PayloadInvalid("the gzip body is truncated; send the whole compressed body")
        rest = inflater.unused_data
    return bytes(out)


def _check_expanded(size: int, limit: int) -> None:
    if size > limit:
        raise PayloadTooLarge(f"the gzip body expands past the {limit:,}-byte limit; send smaller batches")


def parse_json(text: bytes) -> Any:
    """The JSON value of a body; a body that is not JSON is refused with where it went wrong."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"the body is not valid UTF-8 JSON: {exc}") from exc
