"""Properties over random input: any expression of the grammar compiles or raises ExpressionError (and
nothing else), and a compiled expression never raises on any event, profile or history it is evaluated on."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from expr_context import NOW, Ctx
from hypothesis import given, settings
from hypothesis import strategies as st

from rumbo.errors import ExpressionError
from rumbo.expr import Expression, Predicate, check, compile_expression, compile_predicate

# Field names the random events use, so random paths often find something (of a random type).
KEYS = ["value", "currency", "items", "count", "url", "plan", "email", "x", "properties", "context", "event"]
HELPERS = [
    "count", "last", "in_segment", "has_tag", "days_since", "days_until", "hours_since", "local_hour",
    "local_weekday", "lower", "upper", "contains", "starts_with", "len", "exists", "coalesce", "now",
    "unknown_helper",
]  # fmt: skip
ROOTS = [
    "event", "properties", "context", "profile", "profile.traits", "profile.consent", "profile.tags",
    "profile.segments", "evnt",
]  # fmt: skip

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=False, allow_infinity=False)
).map(lambda n: repr(n) if n >= 0 else f"({n!r})")
strings = st.one_of(
    st.sampled_from(["'30d'", "'1h'", "'order_completed'", "'vip'", "'2026-11-13'"]),
    st.text(max_size=6).map(repr),
)
literals = st.one_of(numbers, strings, st.sampled_from(["true", "false", "null", "True", "False", "None"]))
segments = st.one_of(
    st.sampled_from(KEYS).map(lambda k: f".{k}"),
    st.integers(min_value=-3, max_value=3).map(lambda i: f"[{i}]"),
    st.sampled_from([*KEYS, "Order ID", "__class__"]).map(lambda k: f"[{k!r}]"),
)
paths = st.builds(
    lambda root, rest: root + "".join(rest), st.sampled_from(ROOTS), st.lists(segments, max_size=3)
)


def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda op, a: f"({op} {a})", st.sampled_from(["not", "-"]), children),
        st.builds(
            lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(["+", "-", "*", "/", "%"]), children
        ),
        st.builds(lambda a, op, b: f"({a} {op} {b})", children, st.sampled_from(["and", "or"]), children),
        st.builds(
            lambda first, rest: "(" + first + "".join(f" {op} {operand}" for op, operand in rest) + ")",
            children,
            st.lists(
                st.tuples(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]), children),
                min_size=1,
                max_size=3,
            ),
        ),
        st.lists(children, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.builds(
            lambda name, args, within: f"{name}({', '.join(args + within)})",
            st.sampled_from(HELPERS),
            st.lists(children, max_size=3),
            st.lists(strings.map(lambda s: f"within={s}"), max_size=1),
        ),
        st.builds(lambda base, segment: f"({base}){segment}", children, segments),
    )


expressions = st.recursive(st.one_of(literals, paths), extend, max_leaves=10)

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from(["2026-11-13T00:00:00Z", "EUR", "vip"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
events = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5))
contexts = st.builds(
    lambda event, traits, latest, zone, now: Ctx(
        event=event,
        traits=traits,
        consent={"email": True, "sms": False},
        tags=frozenset({"beta"}),
        segments=frozenset({"vip"}),
        now=now,
        timezone=zone,
        history={"order_completed": [NOW - 100.0, NOW - 10 * 86400.0]},
        latest=latest,
    ),
    events,
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4),
    st.dictionaries(
        st.sampled_from(["order_completed", "page_viewed"]),
        st.dictionaries(st.sampled_from(KEYS), json_values),
    ),
    st.sampled_from([None, "Europe/Madrid", "America/Los_Angeles", "Nowhere/Atall"]),
    st.sampled_from([NOW, 0.0, -1e12, 1e20]),
)


def compiled_or_rejected(source: str) -> tuple[Expression | None, Predicate | None]:
    expression = predicate = None
    with contextlib.suppress(ExpressionError):
        expression = compile_expression(source)
    with contextlib.suppress(ExpressionError):
        predicate = compile_predicate(source)
    return expression, predicate


@pytest.mark.slow
@settings(max_examples=250, deadline=None)
@given(expressions, st.lists(contexts, min_size=1, max_size=2))
def test_grammar_expressions_compile_or_are_rejected_and_never_raise_when_evaluated(
    source: str, ctxs: list[Ctx]
) -> None:
    expression, predicate = compiled_or_rejected(source)
    problems = check(source, predicate=False)
    assert (expression is None) == bool(problems), (source, problems)
    for ctx in ctxs:
        if expression is not None:
            expression.evaluate(ctx)
        if predicate is not None:
            result: Any = predicate(ctx)
            assert result is True or result is False
            assert predicate.test(ctx) is result


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_is_checked_without_any_other_exception(source: str) -> None:
    for problem in check(source):
        assert isinstance(problem, ExpressionError)
        assert 0 <= problem.column <= len(source)
        assert problem.hint
    compiled_or_rejected(source)
