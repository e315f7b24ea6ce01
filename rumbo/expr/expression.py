"""The public entry points: compile a predicate or expression, or check one and list every problem.

`check` is what the journey validator calls (it reports all problems at once); `compile_predicate` and
`compile_expression` are what the engine calls (they raise the first problem, by column). A compiled
expression is immutable and safe to share between threads: it holds only closures over constants.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Self

from rumbo.errors import ExpressionError
from rumbo.expr.check import Checker, predicate_error
from rumbo.expr.code import Fn
from rumbo.expr.compile import compile_node
from rumbo.expr.nodes import Invalid, Node
from rumbo.expr.parse import parse
from rumbo.expr.types import AggregateNeed, EvalContext, Scope, Type

_DEFAULT_SCOPE = Scope()


class Expression:
    """A compiled expression: its source, its inferred type, the aggregates it needs, and `evaluate`."""

    source: str
    type: Type
    needs: frozenset[AggregateNeed]

    def __init__(self, source: str, type: Type, needs: frozenset[AggregateNeed], fn: Fn) -> None:
        self.source = source
        self.type = type
        self.needs = needs
        self._fn = fn

    def evaluate(self, ctx: EvalContext) -> Any:
        """The expression's value for one customer at one instant; null for anything missing."""
        return self._fn(ctx)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r}, type={self.type.name})"

    # Compiled expressions are immutable, so a copy is the expression itself (and journeys holding them can
    # be copied; functools.partial's own copy protocol would call the constructor with the wrong arguments).
    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


class Predicate(Expression, functools.partial[bool]):
    """A compiled condition; calling it answers True or False (any non-true result counts as False).

    Calling is the engine's hot path, so it is inherited from functools.partial, whose C-level call goes
    straight to `test` (a closure that returns exactly True or False). A Python-level __call__ would add
    a frame and a bound-method lookup to every evaluation, which costs about as much as a comparison.
    """

    test: Fn

    def __new__(cls, source: str, type: Type, needs: frozenset[AggregateNeed], fn: Fn, test: Fn) -> Predicate:
        return super().__new__(cls, test)

    def __init__(self, source: str, type: Type, needs: frozenset[AggregateNeed], fn: Fn, test: Fn) -> None:
        super().__init__(source, type, needs, fn)
        self.test = test

    if TYPE_CHECKING:  # the call itself is partial's; this states its signature for readers and mypy

        def __call__(self, ctx: EvalContext) -> bool: ...

    def __repr__(self) -> str:
        return Expression.__repr__(self)


def _analyse(source: str, scope: Scope, predicate: bool) -> tuple[Checker, list[ExpressionError], Node]:
    if not isinstance(source, str):
        message = f"an expression must be text, not {type(source).__name__}"
        error = ExpressionError(message, repr(source), 0, "quote it in the journey")
        return Checker(repr(source), scope), [error], Invalid(0)
    tree, errors = parse(source)
    checker = Checker(source, scope)
    found = checker.infer(tree)
    errors = errors + checker.errors
    if predicate and not errors:
        wrong = predicate_error(source, found)
        if wrong is not None:
            errors.append(wrong)
    errors.sort(key=lambda error: error.column)
    return checker, errors, tree


def check(source: str, scope: Scope = _DEFAULT_SCOPE, *, predicate: bool = True) -> list[ExpressionError]:
    """Every problem found in `source` (as a predicate, unless predicate=False), ordered by column; []."""
    return _analyse(source, scope, predicate)[1]


def compile_expression(source: str, scope: Scope = _DEFAULT_SCOPE) -> Expression:
    """Compile an expression of any type; raises the first ExpressionError found."""
    checker, errors, tree = _analyse(source, scope, predicate=False)
    if errors:
        raise errors[0]
    code = compile_node(tree)
    return Expression(source, checker.types[tree], frozenset(checker.needs), code.fn)


def compile_predicate(source: str, scope: Scope = _DEFAULT_SCOPE) -> Predicate:
    """Compile a condition (type BOOL or ANY); raises the first ExpressionError found."""
    checker, errors, tree = _analyse(source, scope, predicate=True)
    if errors:
        raise errors[0]
    code = compile_node(tree)
    test = code.fn if code.strict else _strictly_true(code.fn)
    return Predicate(source, checker.types[tree], frozenset(checker.needs), code.fn, test)


def _strictly_true(fn: Fn) -> Fn:
    def test(ctx: Any) -> bool:
        return fn(ctx) is True

    return test
