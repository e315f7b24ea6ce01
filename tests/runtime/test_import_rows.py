"""Rows to messages, without a store: conversions, times in a time zone, where each field goes, and what a
row without a userId or anonymousId is identified by."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from rumbo.ingest.files import ColumnMapping, RowMapper, with_options
from rumbo.ingest.files.coerce import NotConvertible, converter
from rumbo.ingest.files.mapping import mapping_from_document


def mapper(columns: list[str], **options: object) -> RowMapper:
    mapping = with_options(ColumnMapping(), **options)  # type: ignore[arg-type]
    return RowMapper.bind(mapping, columns, "rows.csv")


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("number", "42", 42),
        ("number", " 12.50 ", 12.5),
        ("number", Decimal("3.00"), 3),
        ("integer", "7", 7),
        ("integer", 7.0, 7),
        ("boolean", "Yes", True),
        ("boolean", "0", False),
        ("boolean", 1, True),
        ("json", '{"sku": ["a", "b"]}', {"sku": ["a", "b"]}),
        ("string", 7, "7"),
        ("keep", dt.date(2026, 11, 23), "2026-11-23"),
    ],
)
def test_values_convert_to_the_type_asked(kind: str, value: object, expected: object) -> None:
    assert converter(kind)(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("number", "12,50", "is not a number (write decimals with a dot: 12.50)"),
        ("number", "nan", "is not a finite number"),
        ("number", True, "is a boolean, not a number"),
        ("integer", "1.5", "is not a whole number"),
        ("boolean", "maybe", "is not a boolean"),
        ("json", "{oops", "is not JSON"),
    ],
)
def test_values_that_do_not_convert_say_why(kind: str, value: object, problem: str) -> None:
    with pytest.raises(NotConvertible) as caught:
        converter(kind)(value)  # type: ignore[arg-type]
    assert problem in str(caught.value)


def test_times_are_read_in_their_format_and_zone() -> None:
    zone = ZoneInfo("Europe/Madrid")
    local = converter("timestamp", "%d/%m/%Y %H:%M", zone)
    assert local("23/11/2026 10:00") == "2026-11-23T09:00:00.000Z"  # winter: UTC+1
    assert local("01/07/2026 10:00") == "2026-07-01T08:00:00.000Z"  # summer: UTC+2
    iso = converter("timestamp", "iso", zone)
    assert iso("2026-11-23T10:00:00Z") == "2026-11-23T10:00:00.000Z"  # an offset wins over the zone
    assert iso("2026-11-23") == "2026-11-22T23:00:00.000Z"
    assert iso(1_795_435_200) == "2026-11-23T12:00:00.000Z"  # a number is seconds since 1970
    assert converter("timestamp", "epoch_ms")(1_795_435_200_500) == "2026-11-23T12:00:00.500Z"
    aware = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    assert local(aware) == "2026-11-23T10:00:00.000Z"  # Parquet's own timestamps are taken as they are
    with pytest.raises(NotConvertible, match="is not a date-time in the format '%d/%m/%Y %H:%M'"):
        local("2026-11-23 10:00")


def test_each_field_goes_where_identity_resolution_and_journeys_read_it() -> None:
    rows = mapper(
        ["id", "mail", "crm", "plan", "opt_in", "kind", "extra"],
        maps=["id=userId", "mail=email", "crm=externalIds.crm_id", "plan=traits.plan",
              "opt_in=traits.consent.email:boolean", "kind=type"],
        sets=["context.channel=store"],
        call="identify",
    )  # fmt: skip
    message, issues = rows.message(
        {"id": "ana", "mail": "Ana@Example.com", "crm": "C-1", "plan": "plus", "opt_in": "yes",
         "kind": "identify", "extra": "kept"},
        2,
    )  # fmt: skip
    assert issues == []
    assert message["userId"] == "ana" and message["type"] == "identify"
    assert message["traits"] == {
        "email": "Ana@Example.com",
        "plan": "plus",
        "consent": {"email": True},
        "extra": "kept",
    }
    assert message["context"] == {"channel": "store", "externalIds": [{"id": "C-1", "type": "crm_id"}]}
    assert rows.folded == ["extra"]
    # The same column on a track call (the row's own type) is an identifier in context.traits.
    track, _ = rows.message({"id": "ana", "mail": "a@b.co", "kind": "track"}, 3)
    assert track["context"]["traits"] == {"email": "a@b.co"} and "traits" not in track


def test_a_row_known_only_by_phone_or_crm_id_gets_an_anonymous_id_from_it() -> None:
    rows = mapper(["phone", "crm"], maps=["crm=externalIds.crm_id"], event="call_completed")
    by_phone, _ = rows.message({"phone": "+34 612 345 678", "crm": ""}, 2)
    assert by_phone["anonymousId"] == "phone:+34612345678"
    by_crm, _ = rows.message({"phone": None, "crm": "C-9"}, 3)
    assert by_crm["anonymousId"] == "crm_id:C-9"
    _, issues = rows.message({"phone": "612 345 678", "crm": ""}, 4)
    assert [issue.path for issue in issues] == ["$.context.traits.phone"]
    assert "no country calling code" in issues[0].message


def test_message_ids_are_stable_per_file_line_and_content_and_constants_are_never_shared() -> None:
    document = {"event": "order_completed", "set": {"properties": {"currency": "EUR"}}}
    rows = RowMapper.bind(mapping_from_document(document, "map.yaml"), ["userId", "total"], "rows.csv")
    first, _ = rows.message({"userId": "ana", "total": "1"}, 2)
    again, _ = rows.message({"userId": "ana", "total": "1"}, 2)
    twin, _ = rows.message({"userId": "ana", "total": "1"}, 3)
    assert first["messageId"] == again["messageId"] != twin["messageId"]
    assert first["messageId"].startswith("import-")
    # The columns went into the object `set` gave, and the next row got a fresh copy of it.
    assert first["properties"] == twin["properties"] == {"currency": "EUR", "total": "1"}
    assert first["properties"] is not twin["properties"]
    fixed, _ = rows.message({"userId": "ana", "total": "2", "rumbo_message_id": first["messageId"]}, 9)
    assert fixed["messageId"] == first["messageId"]  # a row from a rejects file keeps its id
    assert fixed["properties"] == {"currency": "EUR", "total": "2"}  # rumbo_ columns are never mapped
