"""Signed link tokens: standard HMAC-SHA256, bound to their purpose, refused when tampered with."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from rumbo.delivery.tokens import BadToken, Links, sign, verify


def test_a_token_is_signed_with_plain_hmac_sha256_over_purpose_and_payload() -> None:
    token = sign(b"s3cret", "open", {"w": "acme", "k": "key-1"})
    body, _, mac = token.partition(".")
    expected = hmac.new(b"s3cret", f"open.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4)) == expected
    assert verify(b"s3cret", "open", token) == {"w": "acme", "k": "key-1"}
    # Another secret, another purpose, or one changed character: refused.
    for secret, purpose, text in (
        (b"other", "open", token),
        (b"s3cret", "preferences", token),
        (b"s3cret", "open", token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]),
    ):
        with pytest.raises(BadToken):
            verify(secret, purpose, text)  # type: ignore[arg-type]


def test_unsubscribe_and_preferences_links_share_one_token() -> None:
    links = Links("https://shop.example/delivery/", b"s3cret")
    assert links.preference_urls("acme", "key-1") == (
        links.unsubscribe_url("acme", "key-1"),
        links.preferences_url("acme", "key-1"),
    )
