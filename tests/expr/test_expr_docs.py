"""The language reference keeps up with the language: every helper and every root is documented."""

from __future__ import annotations

import copy
from pathlib import Path

from expr_context import Ctx

from rumbo.expr import check, compile_predicate
from rumbo.expr.helpers import HELPERS
from rumbo.expr.parse import PROFILE_FIELDS, ROOT_NAMES

REFERENCE = (Path(__file__).parents[2] / "docs" / "predicates.md").read_text(encoding="utf-8")


def test_every_helper_is_in_the_reference() -> None:
    for name in HELPERS:
        assert f"`{name}(" in REFERENCE, name


def test_every_root_and_profile_field_is_in_the_reference() -> None:
    for root in ROOT_NAMES:
        assert f"`{root}" in REFERENCE, root
    for field in PROFILE_FIELDS:
        assert f"`profile.{field}" in REFERENCE, field


def test_the_referenced_examples_are_valid() -> None:
    for source in [
        "properties.value > 20 and profile.consent.email",
        "properties.value > 20 and count('order_completed', within='30d') == 0",
        "1 < properties.value <= 100",
        "not (properties.plan == 'pro')",
        "exists(last('page_viewed').properties.url)",
        "coalesce(properties.value, 0) > 10",
        "profile.consent.email.newsletter and profile.consent['email.newsletter']",
    ]:
        assert check(source) == [], source


def test_a_long_predicate_can_span_lines_inside_parentheses() -> None:
    predicate = compile_predicate("(properties.value > 20\n and properties.currency == 'EUR')")
    assert predicate(Ctx(event={"properties": {"value": 25, "currency": "EUR"}})) is True
    error = check("(properties.value > 20\n and evnt.x)")[0]
    assert error.column == 28  # counted across the line break: "evnt" starts at offset 28
    assert error.hint == "did you mean event?"


def test_compiled_predicates_are_immutable_so_copies_are_the_same_object() -> None:
    predicate = compile_predicate("properties.value > 20")
    assert copy.copy(predicate) is predicate
    assert copy.deepcopy({"rule": predicate})["rule"] is predicate
