"""Normalisation of identifiers and reading them from Segment messages, against hand-written answers."""

from __future__ import annotations

import pytest

from rumbo.errors import RumboError
from rumbo.identity import Identifier, IdentifierInvalid, identifier, identifiers_from_message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ana.Lopez@Example.COM", "ana.lopez@example.com"),
        ("  ana@example.com\t", "ana@example.com"),
        ("A+Tag@Sub.Example.org", "a+tag@sub.example.org"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert identifier("email", raw) == Identifier("email", expected)


@pytest.mark.parametrize("raw", ["ana.example.com", "@example.com", "ana@", "a@b@c", "ana lopez@example.com"])
def test_a_string_that_is_not_an_address_is_refused(raw: str) -> None:
    with pytest.raises(IdentifierInvalid, match="not an email address"):
        identifier("email", raw)


@pytest.mark.parametrize(
    ("raw", "code", "expected"),
    [
        ("+34 612 34 56 78", None, "+34612345678"),
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("0044 20.7946.0000", None, "+442079460000"),
        ("612-345-678", "34", "+34612345678"),
        ("020 7946 0000", "44", "+442079460000"),  # the trunk 0 goes when the country code comes
        ("+683 4002", None, "+6834002"),  # Niue: 7 digits, the shortest E.164 numbers
    ],
)
def test_phones_become_plus_and_digits(raw: str, code: str | None, expected: str) -> None:
    assert identifier("phone", raw, calling_code=code) == Identifier("phone", expected)


def test_a_phone_without_country_code_and_no_default_is_refused_with_what_to_do() -> None:
    with pytest.raises(IdentifierInvalid, match=r"no country calling code; write the number as \+"):
        identifier("phone", "612 345 678")


@pytest.mark.parametrize("raw", ["+34 61", "+1234567890123456", "+34 61a 345 678"])
def test_phones_outside_7_to_15_digits_are_refused(raw: str) -> None:
    with pytest.raises(IdentifierInvalid, match="7 to 15 digits"):
        identifier("phone", raw)


def test_ids_are_trimmed_but_keep_their_case() -> None:
    assert identifier("user_id", "  U-42 ") == Identifier("user_id", "U-42")
    assert identifier("crm_id", 1234) == Identifier("crm_id", "1234")


@pytest.mark.parametrize(
    ("kind", "value"), [("user_id", "  "), ("user_id", None), ("CRM", "x"), ("user_id", True)]
)
def test_empty_values_and_bad_kinds_are_refused(kind: str, value: object) -> None:
    with pytest.raises(IdentifierInvalid) as caught:
        identifier(kind, value, where="$.userId")
    assert isinstance(caught.value, RumboError)
    assert "$.userId" in str(caught.value)


def test_stronger_kinds_rank_first() -> None:
    ids = [
        identifier("anonymous_id", "a1"),
        identifier("crm_id", "9"),
        identifier("phone", "+34612345678"),
        identifier("email", "z@x.io"),
        identifier("user_id", "u1"),
    ]
    assert [i.kind for i in sorted(ids, key=lambda i: i.rank)] == [
        "user_id",
        "email",
        "phone",
        "crm_id",
        "anonymous_id",
    ]


def test_a_segment_message_gives_every_identifier_it_carries() -> None:
    message = {
        "type": "identify",
        "userId": "u1",
        "anonymousId": "anon-7",
        "traits": {"email": " Ana@Example.com ", "phone": None, "name": "Ana"},
        "context": {
            "traits": {"phone": "+34 612 345 678"},
            "externalIds": [{"id": "C-9", "type": "CRM_ID", "collection": "users"}],
        },
    }
    assert identifiers_from_message(message) == (
        Identifier("user_id", "u1"),
        Identifier("email", "ana@example.com"),
        Identifier("phone", "+34612345678"),
        Identifier("crm_id", "C-9"),
        Identifier("anonymous_id", "anon-7"),
    )


def test_a_bad_identifier_in_a_message_names_its_json_path() -> None:
    with pytest.raises(IdentifierInvalid, match=r"at \$\.traits\.email: not an email"):
        identifiers_from_message({"userId": "u1", "traits": {"email": "nobody"}})
    with pytest.raises(IdentifierInvalid, match=r"at \$\.context\.externalIds\[0\]"):
        identifiers_from_message({"userId": "u1", "context": {"externalIds": ["C-9"]}})
