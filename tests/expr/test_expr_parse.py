"""Parsing: only the whitelisted constructs get through; everything else is named, located and explained."""

from __future__ import annotations

import pytest
from expr_context import Ctx

from rumbo.errors import ExpressionError, RumboError
from rumbo.expr import check, compile_expression, compile_predicate


def only_error(source: str) -> ExpressionError:
    errors = check(source)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


# (source, 0-based column of the fault, words the message must contain, words the hint must contain)
INJECTIONS = [
    ("__import__('os')", 0, "dunder name '__import__'", "helpers"),
    ("__import__('os').system('ls')", 17, "methods cannot be called", "helper"),
    ("event.__class__", 6, "dunder name '__class__'", "['__class__']"),
    ("().__class__.__bases__", 13, "dunder name '__bases__'", "['__bases__']"),
    ("event.properties.__dict__", 17, "dunder name '__dict__'", "['__dict__']"),
    ("lambda: 1", 0, "lambda", "condition itself"),
    ("[x for x in event]", 0, "list comprehension", "contains"),
    ("{k: 1 for k in event}", 0, "dict comprehension", "dots"),
    ("any(x for x in event)", 3, "generator expression", "contains"),
    ("(x := 1) > 0", 1, "walrus", "assign"),
    ("f'{event}' == 'x'", 0, "f-string", "starts_with"),
    ("len(*profile.tags) > 0", 4, "starred", "one by one"),
    ("count(**{'event': 'x'}) > 0", 6, "**kwargs", "one by one"),
    ("eval('1')", 0, "unknown helper eval()", "helpers are"),
    ("exec('1')", 0, "unknown helper exec()", "helpers are"),
    ("open('/etc/passwd')", 0, "unknown helper open()", "helpers are"),
    ("getattr(event, 'x')", 0, "unknown helper getattr()", "helpers are"),
    ("properties.x.upper()", 13, "methods cannot be called", "lower(x)"),
    ("'abc'.upper() == 'ABC'", 6, "methods cannot be called", "lower(x)"),
    ("event.properties[1:2]", 17, "slice", "xs[0]"),
    ("1 if true else 2", 0, "conditional expression", "coalesce"),
    ("event is None", 6, "`is`", "exists"),
    ("event is not None", 6, "`is not`", "exists"),
    ("2 ** 10 > 1", 2, "power operator", "multiply"),
    ("7 // 2 > 1", 2, "floor division", "/"),
    ("properties.a & properties.b", 13, "bitwise operator &", "and"),
    ("properties.a | properties.b", 13, "bitwise operator |", "or"),
    ("~properties.a", 0, "bitwise operator ~", "not"),
    ("+properties.a > 1", 0, "unary plus", "remove"),
    ("(1, 2)", 0, "tuple", "square brackets"),
    ("properties.x in {1, 2}", 16, "set literal", "square brackets"),
    ("{'a': 1}", 0, "dict literal", "single fields"),
    ("b'x' == properties.x", 0, "bytes literal", "b prefix"),
    ("1j == 1", 0, "complex number", "plain number"),
    ("properties[event.x]", 11, "subscript key must be a literal", "xs[0]"),
    ("properties.x(1)", 11, "methods cannot be called", "helper"),
    ("(lambda: 1)()", 1, "lambda", "condition itself"),
]


@pytest.mark.parametrize(("source", "column", "message", "hint"), INJECTIONS)
def test_constructs_outside_the_whitelist_are_rejected_with_column_and_hint(
    source: str, column: int, message: str, hint: str
) -> None:
    errors = check(source)
    matching = [e for e in errors if message in e.message]
    assert len(matching) == 1, [str(e) for e in errors]
    assert matching[0].column == column, str(matching[0])
    assert matching[0].hint is not None and hint in matching[0].hint, str(matching[0])
    with pytest.raises(ExpressionError):
        compile_expression(source)


def test_expression_error_is_a_rumbo_error_and_prints_source_column_and_hint() -> None:
    with pytest.raises(RumboError) as caught:
        compile_predicate("evnt.x > 1")
    assert str(caught.value) == "unknown name 'evnt' in 'evnt.x > 1' at column 1 — did you mean event?"


@pytest.mark.parametrize(
    ("source", "column", "hint"),
    [
        ("evnt.x > 1", 0, "did you mean event?"),
        ("propertes.value > 1", 0, "did you mean properties?"),
        ("contxt.page.path == '/'", 0, "did you mean context?"),
        ("profil.traits.plan == 'pro'", 0, "did you mean profile?"),
        ("os.system('x')", 0, "start from event, properties, context or profile"),
        ("profile.trait.plan == 'pro'", 8, "did you mean profile.traits?"),
        ("profile.email == 'x'", 8, "traits, consent, tags and segments"),
        ("now > 1", 0, "call it with parentheses: now(…)"),
    ],
)
def test_unknown_names_point_at_the_name_and_suggest_the_closest(source: str, column: int, hint: str) -> None:
    error = check(source)[0]
    assert error.column == column
    assert error.hint is not None and hint in error.hint


def test_literal_names_are_accepted_in_both_spellings() -> None:
    assert compile_expression("true").evaluate(None) is True  # type: ignore[arg-type]
    assert compile_expression("True").evaluate(None) is True  # type: ignore[arg-type]
    assert compile_expression("false").evaluate(None) is False  # type: ignore[arg-type]
    assert compile_expression("False").evaluate(None) is False  # type: ignore[arg-type]
    assert compile_expression("null").evaluate(None) is None  # type: ignore[arg-type]
    assert compile_expression("None").evaluate(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "column", "message"),
    [
        ("a ==", 4, "ends too early"),
        ("properties.value >", 18, "ends too early"),
        ("properties.value > 1 and", 24, "ends too early"),
        ("properties.value > 1 )", 21, "unmatched ')'"),
        ("properties.value 1", 17, "invalid syntax"),
        ("properties.x == 'abc", 16, "unterminated string"),
    ],
)
def test_syntax_errors_carry_the_parsers_column(source: str, column: int, message: str) -> None:
    error = only_error(source)
    assert error.message.startswith("syntax error")
    assert message in error.message
    assert error.column == column
    assert error.hint


@pytest.mark.parametrize("source", ["", "   ", "\n"])
def test_empty_source_is_rejected(source: str) -> None:
    error = only_error(source)
    assert error.column == 0
    assert "empty" in error.message
    assert error.hint == "write a condition, e.g. properties.value > 20"


def test_leading_blanks_and_non_ascii_text_keep_columns_in_characters() -> None:
    # 'ñandú' is 5 characters but 7 bytes; the parser counts bytes, the error must count characters.
    error = only_error("  'ñandú' == evnt.x")
    assert error.column == 13
    assert error.source[error.column :].startswith("evnt")


def test_a_dunder_key_is_data_when_written_as_a_subscript() -> None:
    expression = compile_expression("event.properties['__typename']")
    assert expression.evaluate(_event({"__typename": "Order"})) == "Order"


def test_every_independent_problem_is_reported_in_column_order() -> None:
    errors = check("evnt.x > 1 and cnt('a') > 0 and properties.x ** 2 > 1")
    assert [e.column for e in errors] == [0, 15, 45]
    assert [e.hint for e in errors][:2] == ["did you mean event?", "did you mean count()?"]


def test_non_text_source_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="must be text"):
        compile_predicate(42)  # type: ignore[arg-type]
    [error] = check(None)  # type: ignore[arg-type]
    assert error.message == "an expression must be text, not NoneType"


def test_absurd_nesting_is_refused_before_it_can_exhaust_the_stack() -> None:
    [error] = check("not " * 70 + "true")
    assert error.message == "the expression is nested more than 64 levels deep"
    assert error.column == 4 * 64  # the 65th `not`
    assert error.hint == "split it into simpler conditions"
    # Sixty levels still compile and evaluate; a long flat `and` is one level however long it is.
    assert compile_predicate("not " * 60 + "true")(Ctx()) is True
    assert compile_predicate(" and ".join(["true"] * 500))(Ctx()) is True


def _event(properties: dict[str, object]) -> Ctx:
    return Ctx(event={"properties": properties})
