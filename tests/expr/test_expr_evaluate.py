"""Evaluation: each construct and helper on hand-worked cases, and the language's total null semantics."""

from __future__ import annotations

from typing import Any

import pytest
from expr_context import NOW, Ctx, with_properties

from rumbo.expr import compile_expression, compile_predicate

DAY = 86400.0

ORDER = Ctx(
    event={
        "type": "track",
        "event": "order_completed",
        "channel": "web",
        "timestamp": "2026-11-22T10:00:00Z",
        "properties": {
            "value": 42.5,
            "currency": "EUR",
            "Order ID": "A-17",
            "skus": ["A1", "B2", 3],
            "items": {"count": 3},
            "gift": False,
            "coupon": None,
        },
        "context": {"locale": "es-ES", "page": {"path": "/checkout/done"}},
    },
    traits={"plan": "pro", "age": 34, "country": "ES", "signed_up_at": "2026-11-13T00:00:00Z"},
    consent={"email": True, "sms": False, "email.newsletter": True},
    tags=frozenset({"beta", "wholesale"}),
    segments=frozenset({"vip"}),
    history={"order_completed": [NOW - 40 * DAY, NOW - 20 * DAY, NOW - 2 * DAY], "page_viewed": [NOW - 60]},
    latest={"page_viewed": {"event": "page_viewed", "properties": {"url": "/cart"}, "timestamp": NOW - 60}},
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # Paths and their shorthands.
        ("event.event", "order_completed"),
        ("event.channel", "web"),
        ("properties.value", 42.5),
        ("event.properties.value", 42.5),
        ("event.properties['Order ID']", "A-17"),
        ("properties.skus[0]", "A1"),
        ("properties.skus[-1]", 3),
        ("properties.skus[3]", None),
        ("properties.items.count", 3),
        ("context.page.path", "/checkout/done"),
        ("event.context.locale", "es-ES"),
        ("profile.traits.plan", "pro"),
        ("profile.traits['age']", 34),
        ("profile.traits.missing.deeper.still", None),
        ("properties.currency.code", None),  # a string has no fields: null, not an error
        ("properties.skus.first", None),
        ("profile.consent.email", True),
        ("profile.consent.sms", False),
        ("profile.consent.push", False),  # no record of consent is no consent
        ("profile.consent.email.newsletter", True),
        ("profile.consent['email.newsletter']", True),
        # Arithmetic.
        ("properties.value * 2", 85.0),
        ("properties.value + 7.5", 50.0),
        ("properties.value - 2.5", 40.0),
        ("properties.value / 2", 21.25),
        ("profile.traits.age % 5", 4),
        ("-properties.value", -42.5),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("properties.value / 0", None),
        ("profile.traits.age % 0", None),
        # Literals.
        ("[1, 'a', null]", [1, "a", None]),
        ("-3", -3),
        # Helpers returning values.
        ("count('order_completed')", 3),
        ("count('order_completed', within='30d')", 2),
        ("count('order_completed', '30d')", 2),
        ("count('order_completed', within='1d')", 0),
        ("count('never_seen')", 0),
        ("last('page_viewed').properties.url", "/cart"),
        ("last('page_viewed').event", "page_viewed"),
        ("last('never_seen')", None),
        ("last('never_seen').properties.url", None),
        ("lower(properties.currency)", "eur"),
        ("upper(context.locale)", "ES-ES"),
        ("lower(properties.value)", None),
        ("len(properties.skus)", 3),
        ("len(profile.traits.plan)", 3),
        ("len(profile.tags)", 2),
        ("len(properties.items)", 1),
        ("len(properties.value)", None),
        ("coalesce(properties.coupon, properties.missing, 'none')", "none"),
        ("coalesce(properties.coupon, properties.gift, 'none')", False),
        ("coalesce(properties.coupon)", None),
        ("now()", NOW),
        ("days_since(profile.traits.signed_up_at)", 10.0),
    ],
)
def test_expressions_evaluate_to_hand_worked_values(source: str, expected: Any) -> None:
    value = compile_expression(source).evaluate(ORDER)
    assert value == expected
    assert type(value) is type(expected)


TRUE_AND_FALSE = [
    # Comparisons of each kind, with a true and a false case.
    ("properties.value > 20", "properties.value > 50"),
    ("properties.value >= 42.5", "properties.value >= 42.6"),
    ("properties.value < 43", "properties.value < 42"),
    ("properties.value <= 42.5", "properties.value <= 42"),
    ("properties.value == 42.5", "properties.value == 42"),
    ("properties.value != 42", "properties.value != 42.5"),
    ("profile.traits.plan == 'pro'", "profile.traits.plan == 'free'"),
    ("profile.traits.plan != 'free'", "profile.traits.plan != 'pro'"),
    ("profile.traits.country < 'FR'", "profile.traits.country > 'FR'"),
    ("properties.gift == false", "properties.gift == true"),
    ("properties.gift != true", "properties.gift != false"),
    ("properties.coupon == null", "properties.currency == null"),
    ("properties.currency != null", "properties.coupon != null"),
    ("1 < properties.value < 50", "1 < properties.value < 40"),
    ("0 < profile.traits.age <= 34 < properties.value", "0 < profile.traits.age < 34"),
    ("20 < properties.value", "50 < properties.value"),
    ("properties.value == properties.value", "properties.value != properties.value"),
    ("profile.traits.age < properties.value", "profile.traits.age > properties.value"),
    # Membership.
    ("profile.traits.country in ['ES', 'PT']", "profile.traits.country in ['FR', 'IT']"),
    ("profile.traits.country not in ['FR', 'IT']", "profile.traits.country not in ['ES', 'PT']"),
    ("profile.traits.age in [33, 34]", "profile.traits.age in [35]"),
    ("properties.gift in [false]", "properties.gift in [true]"),
    ("properties.coupon in [null, 'X']", "properties.missing in ['X']"),
    ("'A1' in properties.skus", "'C3' in properties.skus"),
    ("3 in properties.skus", "'3' in properties.skus"),
    ("'C3' not in properties.skus", "'A1' not in properties.skus"),
    ("'EU' in properties.currency", "'US' in properties.currency"),
    ("'vip' in profile.segments", "'gold' in profile.segments"),
    ("'beta' in profile.tags", "'alpha' in profile.tags"),
    ("'count' in properties.items", "'total' in properties.items"),
    (
        "profile.traits.country in [profile.traits.country, 'x']",
        "profile.traits.plan in [properties.currency]",
    ),
    # Boolean operators and truthiness.
    (
        "properties.value > 20 and profile.traits.plan == 'pro'",
        "properties.value > 20 and profile.traits.plan == 'x'",
    ),
    (
        "properties.value > 50 or profile.traits.plan == 'pro'",
        "properties.value > 50 or profile.traits.plan == 'x'",
    ),
    ("not properties.gift", "not properties.currency"),
    ("properties.currency and profile.traits.age", "properties.currency and properties.coupon"),
    ("properties.coupon or properties.value", "properties.coupon or properties.gift"),
    ("true", "false"),
    ("properties.value > 1 and properties.value > 2 and properties.value > 3 and true", "true and false"),
    ("false or false or properties.value > 1", "false or properties.gift or properties.coupon"),
    # Profile helpers.
    ("profile.consent.email", "profile.consent.sms"),
    ("in_segment('vip')", "in_segment('churn_risk')"),
    ("has_tag('beta')", "has_tag('alpha')"),
    ("has_tag(lower('BETA'))", "has_tag(properties.value)"),
    ("exists(properties.currency)", "exists(properties.coupon)"),
    ("exists(last('page_viewed'))", "exists(last('never_seen'))"),
    ("contains(properties.skus, 'B2')", "contains(properties.skus, 'b2')"),
    ("contains(properties.currency, 'UR')", "contains(properties.currency, 'US')"),
    ("contains(profile.tags, 'wholesale')", "contains(properties.value, 'x')"),
    ("starts_with(context.page.path, '/checkout')", "starts_with(context.page.path, '/cart')"),
    ("count('order_completed', within='30d') >= 2", "count('order_completed', within='30d') >= 3"),
    ("last('page_viewed').properties.url == '/cart'", "last('page_viewed').properties.url == '/home'"),
    ("hours_since(last('page_viewed').timestamp) < 1", "hours_since(last('page_viewed').timestamp) > 1"),
    ("days_since(profile.traits.signed_up_at) > 7", "days_since(profile.traits.signed_up_at) > 14"),
    ("coalesce(properties.coupon, 0) == 0", "coalesce(properties.coupon, 1) == 0"),
]


@pytest.mark.parametrize(("true_source", "false_source"), TRUE_AND_FALSE)
def test_predicates_hold_or_not_as_worked_out_by_hand(true_source: str, false_source: str) -> None:
    assert compile_predicate(true_source)(ORDER) is True
    assert compile_predicate(false_source)(ORDER) is False


def test_a_predicate_reads_the_history_window_it_was_compiled_with() -> None:
    ctx = Ctx(history={"order_completed": [NOW - 31 * DAY, NOW - 29 * DAY, NOW - 1]})
    predicate = compile_predicate("count('order_completed', within='30d') >= 2")
    assert predicate(ctx) is True
    assert ctx.calls == [("count", "order_completed", NOW - 30 * DAY)]
    ctx.calls.clear()
    assert compile_predicate("count('order_completed') == 3")(ctx) is True
    assert ctx.calls == [("count", "order_completed", None)]


MISSING = [
    Ctx(),  # no event at all
    Ctx(event={}),
    Ctx(event={"properties": None}),
    Ctx(event={"properties": "a string"}),
    Ctx(event={"properties": ["a", "list"]}),
    Ctx(event={"properties": {"value": None, "currency": None, "skus": None}}),
]
MISTYPED = [
    Ctx(event={"properties": {"value": "42.5", "currency": 3, "skus": "A1,B2"}}),
    Ctx(event={"properties": {"value": True, "currency": ["EUR"], "skus": {"A1": 1}}}),
    Ctx(event={"properties": {"value": [], "currency": {}, "skus": 7}}, traits={"plan": 1, "age": "34"}),
    Ctx(event={"properties": {"value": 10**400, "skus": [[], {}]}}, traits={"age": float("nan")}),
    Ctx(event={"properties": {"value": float("inf"), "currency": "", "skus": []}}, traits={"age": -0.0}),
]

TOTAL_SOURCES = [
    "properties.value > 20",
    "properties.value <= 20",
    "properties.value == 42.5",
    "properties.currency == 'EUR'",
    "properties.currency < 'F'",
    "properties.value + 1 > 2",
    "properties.value * 1.5 < 1",
    "properties.value / properties.value == 1",
    "properties.value % 2 == 0",
    "-properties.value < 0",
    "properties.value > profile.traits.age",
    "properties.currency in ['EUR', 'USD']",
    "properties.value in [1, 2]",
    "'A1' in properties.skus",
    "'A1' not in properties.skus",
    "properties.value not in properties.skus",
    "len(properties.skus) > 1",
    "lower(properties.currency) == 'eur'",
    "contains(properties.skus, 'A1')",
    "starts_with(properties.currency, 'E')",
    "days_since(properties.value) > 1",
    "hours_since(properties.currency) > 1",
    "days_until(properties.skus) > 1",
    "has_tag(properties.currency)",
    "properties.skus[0] == 'A1'",
    "properties.skus[-1].x == 1",
    "last('x').properties.value > 1",
    "profile.traits.plan == 'pro' and profile.traits.age >= 18",
    "1 < properties.value < 3",
    "coalesce(properties.value, 0) > 1",
]


@pytest.mark.parametrize("source", TOTAL_SOURCES)
def test_missing_fields_make_predicates_false_and_mistyped_ones_never_raise(source: str) -> None:
    predicate = compile_predicate(source)
    for ctx in MISSING:
        assert predicate(ctx) is False, (source, ctx.event)
    for ctx in MISTYPED:
        assert predicate(ctx) in (True, False), (source, ctx.event, ctx.traits)
        compile_expression(source).evaluate(ctx)


def test_mistyped_fields_compare_false_against_literals_of_another_type() -> None:
    strings = MISTYPED[0]  # value "42.5" and currency 3: each holds the other's type
    for source in [
        "properties.value > 20",
        "properties.value == 42.5",
        "properties.currency == 'EUR'",
        "properties.currency < 'F'",
        "properties.value + 1 > 2",
        "properties.value in [42.5]",
        "lower(properties.currency) == '3'",
    ]:
        assert compile_predicate(source)(strings) is False, source
    assert compile_predicate("properties.value == '42.5' and properties.currency == 3")(strings) is True


def test_null_and_mismatched_comparisons_are_false_in_both_directions() -> None:
    ctx = with_properties(flag=True, n=1, s="1")
    for source in [
        "properties.flag == 1",  # Python would say True == 1
        "properties.n == true",
        "properties.n == properties.flag",
        "properties.flag > 0",
        "properties.n == properties.s",
        "properties.n != properties.s",  # mismatched kinds: false, not "different"
        "properties.missing != 'x'",  # null: false, not "different"
        "properties.missing != 3",
        "properties.missing not in ['x']",
        "properties.flag in [1]",
        "properties.n in [true]",
    ]:
        assert compile_predicate(source)(ctx) is False, source
    # Negating a comparison is how a journey says "not known to be …".
    assert compile_predicate("not (properties.missing == 'x')")(ctx) is True


def test_arithmetic_with_null_or_non_numbers_is_null() -> None:
    ctx = with_properties(n=2, s="2", flag=True, big=10**400)
    for source in [
        "properties.n + properties.s",
        "properties.n * properties.flag",
        "properties.missing - 1",
        "-properties.s",
        "properties.big + 0.5",  # int too large for a float
        "properties.n / (properties.n - 2)",
        "properties.n % (properties.n - 2)",
    ]:
        assert compile_expression(source).evaluate(ctx) is None, source


def test_constant_sub_expressions_are_folded_at_compile_time() -> None:
    assert compile_expression("(1 + 2) * 3 > 8 and lower('A') == 'a'").evaluate(None) is True  # type: ignore[arg-type]
    assert compile_predicate("false and properties.x > 1")(None) is False  # type: ignore[arg-type]
    assert compile_predicate("true or properties.x > 1")(None) is True  # type: ignore[arg-type]
    assert compile_predicate("1 < 2 < 3")(None) is True  # type: ignore[arg-type]


def test_a_predicate_of_unknown_type_is_true_only_for_true() -> None:
    predicate = compile_predicate("properties.flag")
    assert predicate(with_properties(flag=True)) is True
    for value in (1, "yes", [1], {"a": 1}, None, False):
        assert predicate(with_properties(flag=value)) is False
        assert predicate.test(with_properties(flag=value)) is False
    assert predicate.evaluate(with_properties(flag="yes")) == "yes"


def test_consent_that_is_not_exactly_true_is_not_consent() -> None:
    predicate = compile_predicate("profile.consent.email")
    assert predicate(Ctx(consent={"email": True})) is True
    for value in ("yes", 1, None):
        assert predicate(Ctx(consent={"email": value})) is False  # type: ignore[dict-item]


def test_expressions_and_predicates_report_their_source_and_type() -> None:
    predicate = compile_predicate("properties.value > 1")
    assert predicate.source == "properties.value > 1"
    assert repr(predicate) == "Predicate('properties.value > 1', type=BOOL)"
    assert repr(compile_expression("1 + 1")) == "Expression('1 + 1', type=NUMBER)"
