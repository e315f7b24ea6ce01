"""rumbo's predicate language: small, safe, statically checked expressions compiled to closures.

Journeys use it for entry filters, branch cases, wait_for filters, offer eligibility and segment rules:

    >>> from rumbo.expr import compile_predicate
    >>> vip = compile_predicate("event.properties.value > 20 and profile.traits.plan == 'pro'")

Modules: `types` (Type, Scope, AggregateNeed, EvalContext), `parse` (whitelist walk of Python's parser
output), `check` (type inference and errors), `compile` (closures), `helpers`/`functions` (the callable
helpers' signatures and run-time behaviour), `runtime` (total value semantics), `expression` (the API).
The language reference is docs/predicates.md.
"""

from __future__ import annotations

from rumbo.errors import ExpressionError
from rumbo.expr.expression import Expression, Predicate, check, compile_expression, compile_predicate
from rumbo.expr.types import AggregateNeed, EvalContext, Scope, Type

__all__ = [
    "AggregateNeed",
    "EvalContext",
    "Expression",
    "ExpressionError",
    "Predicate",
    "Scope",
    "Type",
    "check",
    "compile_expression",
    "compile_predicate",
]
