"""Static checking: inferred types, and every rejection the checker makes, with its column and hint."""

from __future__ import annotations

import pytest

from rumbo.errors import ExpressionError
from rumbo.expr import AggregateNeed, Scope, Type, check, compile_expression, compile_predicate

SHOP = Scope(
    event_properties={"value": Type.NUMBER, "currency": Type.STRING, "items.count": Type.NUMBER},
    traits={"plan": Type.STRING, "age": Type.NUMBER, "vip": Type.BOOL},
    known_events=frozenset({"order_completed", "page_viewed", "cart_abandoned"}),
    segments=frozenset({"vip", "churn_risk"}),
)


def only_error(source: str, scope: Scope = SHOP) -> ExpressionError:
    errors = check(source, scope)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", Type.NUMBER),
        ("'a'", Type.STRING),
        ("null", Type.NULL),
        ("[1, 2]", Type.LIST),
        ("true and 1", Type.BOOL),
        ("not 3", Type.BOOL),
        ("-properties.value", Type.NUMBER),
        ("properties.value", Type.NUMBER),
        ("event.properties.items.count", Type.NUMBER),
        ("event.properties['currency']", Type.STRING),
        ("properties.unknown", Type.ANY),
        ("context.page.url", Type.ANY),
        ("event", Type.EVENT),
        ("event.event", Type.STRING),
        ("event.channel", Type.STRING),
        ("event.properties", Type.OBJECT),
        ("profile.traits", Type.OBJECT),
        ("profile.traits.plan", Type.STRING),
        ("profile.traits.vip", Type.BOOL),
        ("profile.consent.email", Type.BOOL),
        ("profile.consent['email.newsletter']", Type.BOOL),
        ("profile.tags", Type.SET),
        ("profile.segments", Type.SET),
        ("count('order_completed')", Type.NUMBER),
        ("last('page_viewed')", Type.EVENT),
        ("last('page_viewed').properties.url", Type.ANY),
        ("last('page_viewed').event", Type.STRING),
        ("lower(profile.traits.plan)", Type.STRING),
        ("len(profile.tags)", Type.NUMBER),
        ("coalesce(properties.value, 0)", Type.NUMBER),
        ("coalesce(properties.value, null)", Type.NUMBER),
        ("coalesce(properties.value, 'none')", Type.ANY),
        ("days_since(profile.traits.signed_up_at)", Type.NUMBER),
        ("local_hour()", Type.NUMBER),
        ("now()", Type.NUMBER),
        ("1 < properties.value < 3", Type.BOOL),
    ],
)
def test_types_are_inferred_from_literals_operators_helpers_and_the_scope(
    source: str, expected: Type
) -> None:
    assert compile_expression(source, SHOP).type is expected


@pytest.mark.parametrize(
    ("source", "column", "message", "hint"),
    [
        # Ordering between incompatible known types, pointing at the operator.
        ("'abc' > 3", 6, "a string cannot be ordered against a number", "a number with a number"),
        ("properties.currency < 10", 20, "cannot be ordered against", "quotes"),
        ("profile.traits.vip > 0", 19, "a boolean cannot be ordered", "booleans"),
        ("profile.tags >= 1", 13, "a set cannot be ordered", "len(x)"),
        ("properties.value > null", 17, "ordering with null", "exists(x)"),
        # Equality that can never hold.
        ("count('order_completed') == 'many'", 25, "a number is compared with a string", "number"),
        ("profile.traits.plan != 3", 20, "a string is compared with a number", "quotes"),
        ("profile.traits.vip == 'yes'", 19, "a boolean is compared with a string", "true or false"),
        ("profile.tags == 'beta'", 13, "a set is compared with a string", "has_tag"),
        # Membership.
        ("'x' in 3", 4, "right side of `in` must be a list, set, string or object", "list literal"),
        ("3 in profile.tags", 2, "can never be in a set of strings", "'vip' in profile.segments"),
        ("properties.value in ['a', 'b']", 17, "looked up in a list of a string", "number"),
        ("properties.currency not in profile.traits.plan + 1", 47, "arithmetic", "starts_with"),
        # Arithmetic on strings and booleans.
        ("properties.currency + 1 > 2", 20, "arithmetic (+) on a string", "starts_with/contains"),
        ("true * 2 > 1", 5, "arithmetic (*) on a boolean", "numbers only"),
        ("-profile.traits.plan == 1", 0, "unary minus needs a number, not a string", "negate numbers"),
        # Fields of things that have none.
        (
            "properties.value.cents > 1",
            17,
            "properties.value is a number and has no field 'cents'",
            "field name",
        ),
        ("event.event.name == 'x'", 12, "event.event is a string and has no field 'name'", "field name"),
        ("profile.tags.beta", 13, "profile.tags is a set of names", "has_tag('name')"),
        ("profile.segments.vip", 17, "profile.segments is a set of names", "in_segment('name')"),
        ("profile.consent[0]", 16, "consent is looked up by channel name", "profile.consent.email"),
        ("profile == 1", 0, "profile is not a value by itself", "profile.traits.x"),
        ("lower('A').x == 'a'", 11, "a string has no field 'x'", "events and objects"),
        ("count('page_viewed').x == 1", 21, "a number has no field 'x'", "events and objects"),
    ],
)
def test_type_errors_name_the_problem_where_it_is_and_what_to_write(
    source: str, column: int, message: str, hint: str
) -> None:
    error = only_error(source)
    assert message in error.message, str(error)
    assert error.column == column, str(error)
    assert error.hint is not None and hint in error.hint, str(error)


@pytest.mark.parametrize(
    ("source", "column", "message", "hint"),
    [
        ("count(3) > 1", 6, "count()'s argument 'event' must be a name in quotes", "count('order_completed'"),
        ("count(properties.name) > 1", 6, "must be a name in quotes", "within='30d'"),
        ("count('order_completed', within='3 days') > 1", 32, "'3 days' is not a duration", "within='30d'"),
        ("count('order_completed', within=30) > 1", 32, "must be a duration in quotes", "within='30d'"),
        ("count('order_completed', within='-1d') > 1", 32, "the window '-1d' is not positive", "'30d'"),
        ("count('order_completed', '30d', 'x') > 1", 32, "count() takes 2 arguments, got 3", "count("),
        ("count('order_completed', since='30d') > 1", 31, "no keyword argument 'since'", "within="),
        ("count('order_completed', '30d', within='1d') > 1", 39, "got 'within' twice", "within="),
        ("count() > 1", 0, "count() is missing its argument 'event'", "count("),
        ("count('order_complete') > 1", 6, "the event 'order_complete' is not known", "'order_completed'?"),
        ("exists(last('signup'))", 12, "the event 'signup' is not known", "known events: cart_abandoned"),
        ("in_segment('vips')", 11, "the segment 'vips' is not known", "did you mean 'vip'?"),
        ("in_segment(profile.traits.plan)", 11, "must be a name in quotes", "in_segment('vip')"),
        ("has_tag(3)", 8, "has_tag()'s argument 'tag' must be a string, not a number", "has_tag('beta')"),
        ("lower(1) == 'a'", 6, "must be a string, not a number", "lower("),
        ("days_since(true) > 1", 11, "must be a number or a string, not a boolean", "days_since("),
        ("len(3) > 1", 4, "must be a string, a list, a set or an object", "len("),
        ("contains(properties.currency, 3)", 30, "a string can only contain a string", "quote the needle"),
        ("local_hour(1) > 1", 11, "local_hour() takes no arguments, got 1", "local_hour()"),
        ("starts_with('a') ", 0, "missing its argument 'prefix'", "starts_with("),
        ("coalesce() == 1", 0, "missing its argument 'value'", "coalesce("),
        ("cont('a', 'b')", 0, "unknown helper cont()", "did you mean count()?"),
        ("sum(1) > 1", 0, "unknown helper sum()", "the helpers are count, last"),
    ],
)
def test_helper_calls_are_checked(source: str, column: int, message: str, hint: str) -> None:
    error = only_error(source)
    assert message in error.message, str(error)
    assert error.column == column, str(error)
    assert error.hint is not None and hint in error.hint, str(error)


@pytest.mark.parametrize(
    ("source", "found", "hint"),
    [
        ("properties.value", "a number", "did you mean `properties.value > 0`?"),
        ("count('order_completed')", "a number", "did you mean `count('order_completed') > 0`?"),
        ("profile.traits.plan", "a string", "`profile.traits.plan == '…'` or `exists(profile.traits.plan)`"),
        ("'yes'", "a string", "did you mean `'yes' == '…'`"),
        ("last('page_viewed')", "an event", "exists(last('page_viewed'))"),
        ("profile.tags", "a set", "len(profile.tags) > 0"),
        ("null", "null", "write true or false"),
    ],
)
def test_a_predicate_must_be_true_or_false(source: str, found: str, hint: str) -> None:
    error = only_error(source)
    assert error.message == f"a predicate must be true or false, but this is {found}"
    assert error.column == 0
    assert error.hint is not None and hint in error.hint
    with pytest.raises(ExpressionError):
        compile_predicate(source, SHOP)
    # The same text is a fine expression.
    compile_expression(source, SHOP)


@pytest.mark.parametrize(
    "source",
    [
        "properties.flag",  # unknown type: may well be a boolean
        "profile.consent.email",
        "profile.traits.vip",
        "exists(properties.coupon)",
        "properties.value > 20 and profile.traits.plan == 'pro'",
        "not properties.value",  # truthiness is allowed under not/and/or
        "properties.value and profile.traits.plan",
    ],
)
def test_boolean_like_predicates_are_accepted(source: str) -> None:
    assert check(source, SHOP) == []
    assert compile_predicate(source, SHOP).type in (Type.BOOL, Type.ANY)


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("event.properties.value > 1", 0),
        ("properties.value > 1", 0),
        ("context.locale == 'es'", 0),
        ("profile.traits.age > 1 and event.event == 'x'", 27),
    ],
)
def test_event_fields_are_rejected_where_the_scope_has_no_event(source: str, column: int) -> None:
    no_event = Scope(has_event=False)
    error = only_error(source, no_event)
    assert "no triggering event" in error.message
    assert error.column == column
    assert error.hint is not None and "count('name') / last('name')" in error.hint
    # Looking back at history and reading the profile do not need a triggering event.
    assert check("count('order_completed') > 1 and profile.traits.age > 30", no_event) == []


def test_any_name_is_accepted_when_the_scope_does_not_list_them() -> None:
    assert check("count('anything') > 1 and in_segment('whatever') and exists(last('x'))") == []


def test_needs_list_the_history_each_aggregate_reads() -> None:
    predicate = compile_predicate(
        "count('order_completed', within='30d') >= 2 and count('order_completed') < 10 "
        "and last('page_viewed').properties.url == '/cart' and count('page_viewed', '1d12h') > 0",
        SHOP,
    )
    assert predicate.needs == frozenset(
        {
            AggregateNeed("count", "order_completed", 30 * 86400.0),
            AggregateNeed("count", "order_completed", None),
            AggregateNeed("last", "page_viewed", None),
            AggregateNeed("count", "page_viewed", 36 * 3600.0),
        }
    )
    assert compile_predicate("properties.value > 1", SHOP).needs == frozenset()


def test_check_finds_independent_problems_together() -> None:
    errors = check(
        "count('nope') > 'x' and in_segment('gold') and properties.currency * 2 > 1 and evnt", SHOP
    )
    assert [(e.column, e.message.split(" ")[0]) for e in errors] == [
        (6, "the"),  # unknown event
        (14, "a"),  # number ordered against a string
        (35, "the"),  # unknown segment
        (67, "arithmetic"),
        (79, "unknown"),  # evnt
    ]


def test_a_chained_comparison_checks_each_link() -> None:
    error = only_error("1 < properties.value < 'z'")
    assert error.column == 21
    assert "a number cannot be ordered against a string" in error.message
