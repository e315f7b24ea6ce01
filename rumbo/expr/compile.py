"""Compilation: the checked tree becomes nested closures, with everything knowable in advance settled now.

Paths are pre-split and read with one try block per path (a miss costs an exception, a hit costs only the
subscripts); constants are folded; each comparison gets a closure chosen for its operator and for the kind of
constant on its right, so evaluation never walks a tree or looks an operator up in a table. Closures that
always return True or False are marked `strict`, which lets `and`/`or`/`not` skip truthiness conversions.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

from rumbo.expr import nodes as n
from rumbo.expr import runtime as rt
from rumbo.expr.code import Code, Fn, constant
from rumbo.expr.functions import BUILDERS, PURE
from rumbo.expr.fused import fused_comparison

_PAIR_TESTS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "==": rt.equal,
    "!=": rt.not_equal,
    "<": rt.less,
    "<=": rt.less_equal,
    ">": rt.greater,
    ">=": rt.greater_equal,
    "in": rt.member,
    "not in": rt.not_member,
}
_MIRRORED: Final = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITH: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+": rt.add,
    "-": rt.subtract,
    "*": rt.multiply,
    "/": rt.divide,
    "%": rt.modulo,
}
_ROOTS: Final = {
    "event": attrgetter("event"),
    "traits": attrgetter("traits"),
    "tags": attrgetter("tags"),
    "segments": attrgetter("segments"),
    "consent": attrgetter("consent"),
}
# What a failed lookup of JSON-like data can raise: a missing key, a list indexed by name, null.
_MISSES: Final = (LookupError, TypeError, AttributeError)


def compile_node(node: n.Node) -> Code:
    """Closures for a tree the checker accepted (no Invalid nodes, helpers called correctly)."""
    match node:
        case n.Const(value=value):
            return constant(value)
        case n.ListLit(items=items):
            return _list(tuple(compile_node(item) for item in items))
        case n.Path(root=root, keys=keys):
            if root == "consent":
                return _consent(keys) if keys else Code(_ROOTS["consent"])
            path = (_ROOTS[root], keys) if all(isinstance(key, str) for key in keys) else None
            return Code(getter(_ROOTS[root], keys), path=path)  # type: ignore[arg-type]
        case n.Get(base=base, keys=keys):
            return Code(getter(compile_node(base).fn, keys))
        case n.Not(operand=operand):
            return _not(compile_node(operand))
        case n.Neg(operand=operand):
            inner = compile_node(operand)
            return _unary(rt.negate, inner)
        case n.BoolOp(op=op, values=values):
            codes = [compile_node(value) for value in values]
            return _and(codes) if op == "and" else _or(codes)
        case n.Compare(left=left, ops=ops, comparators=comparators):
            return _compare(compile_node(left), ops, [compile_node(c) for c in comparators])
        case n.Arith(op=op, left=left, right=right):
            return _binary(_ARITH[op], compile_node(left), compile_node(right))
        case n.Call(name=name, args=args, kwargs=kwargs):
            codes = [compile_node(arg) for arg in args] + [compile_node(value) for _, value in kwargs]
            code = BUILDERS[name](codes)
            if name in PURE and all(c.const for c in codes):
                return constant(code.fn(None))
            return code
    raise AssertionError(f"cannot compile {node!r}")  # pragma: no cover - the checker rejected it


def getter(root: Fn, keys: tuple[n.Key, ...]) -> Fn:
    """Reads root(ctx)[k0][k1]… with null for anything missing; specialised for short name-only paths."""
    if not keys:
        return root
    if not all(isinstance(key, str) for key in keys):
        # Integer keys index lists only (never strings), which the general walk handles.
        def walk_path(ctx: Any) -> Any:
            return rt.walk(root(ctx), keys)

        return walk_path
    if len(keys) == 1:
        (k0,) = keys

        def get1(ctx: Any) -> Any:
            try:
                return root(ctx).get(k0)
            except _MISSES:
                return None

        return get1
    if len(keys) == 2:
        k0, k1 = keys

        def get2(ctx: Any) -> Any:
            try:
                return root(ctx)[k0].get(k1)
            except _MISSES:
                return None

        return get2
    if len(keys) == 3:
        k0, k1, k2 = keys

        def get3(ctx: Any) -> Any:
            try:
                return root(ctx)[k0][k1].get(k2)
            except _MISSES:
                return None

        return get3
    *head, tail = keys

    def get_n(ctx: Any) -> Any:
        try:
            value = root(ctx)
            for key in head:
                value = value[key]
            return value.get(tail)
        except _MISSES:
            return None

    return get_n


def _consent(keys: tuple[n.Key, ...]) -> Code:
    # profile.consent.email.newsletter and profile.consent["email.newsletter"] name the same consent.
    key = ".".join(str(k) for k in keys)

    def consent(ctx: Any) -> bool:
        return ctx.consent.get(key) is True

    return Code(consent, strict=True)


def _list(items: tuple[Code, ...]) -> Code:
    if all(item.const for item in items):
        return constant([item.value for item in items])
    fns = tuple(item.fn for item in items)

    def make_list(ctx: Any) -> Any:
        return [fn(ctx) for fn in fns]

    return Code(make_list)


def _truthy_fn(code: Code) -> Fn:
    """A closure that returns exactly True or False."""
    if code.strict:
        return code.fn
    fn = code.fn

    def truthy(ctx: Any) -> bool:
        return rt.truthy(fn(ctx))

    return truthy


def _not(code: Code) -> Code:
    if code.const:
        return constant(not rt.truthy(code.value))
    fn = code.fn
    if code.strict:

        def not_strict(ctx: Any) -> bool:
            return not fn(ctx)

        return Code(not_strict, strict=True)

    def not_value(ctx: Any) -> bool:
        return not rt.truthy(fn(ctx))

    return Code(not_value, strict=True)


def _and(codes: list[Code]) -> Code:
    if any(c.const and not rt.truthy(c.value) for c in codes):
        return constant(False)
    fns = [_truthy_fn(c) for c in codes if not c.const]
    if not fns:
        return constant(True)
    if len(fns) == 1:
        return Code(fns[0], strict=True)
    if len(fns) == 2:
        a, b = fns

        def and2(ctx: Any) -> bool:
            return a(ctx) and b(ctx)  # type: ignore[no-any-return]

        return Code(and2, strict=True)
    if len(fns) == 3:
        a, b, c = fns

        def and3(ctx: Any) -> bool:
            return a(ctx) and b(ctx) and c(ctx)  # type: ignore[no-any-return]

        return Code(and3, strict=True)
    all_fns = tuple(fns)

    def and_n(ctx: Any) -> bool:
        return all(fn(ctx) for fn in all_fns)

    return Code(and_n, strict=True)


def _or(codes: list[Code]) -> Code:
    if any(c.const and rt.truthy(c.value) for c in codes):
        return constant(True)
    fns = [_truthy_fn(c) for c in codes if not c.const]
    if not fns:
        return constant(False)
    if len(fns) == 1:
        return Code(fns[0], strict=True)
    if len(fns) == 2:
        a, b = fns

        def or2(ctx: Any) -> bool:
            return a(ctx) or b(ctx)  # type: ignore[no-any-return]

        return Code(or2, strict=True)
    all_fns = tuple(fns)

    def or_n(ctx: Any) -> bool:
        return any(fn(ctx) for fn in all_fns)

    return Code(or_n, strict=True)


def _unary(op: Callable[[Any], Any], code: Code) -> Code:
    if code.const:
        return constant(op(code.value))
    fn = code.fn

    def unary(ctx: Any) -> Any:
        return op(fn(ctx))

    return Code(unary)


def _binary(op: Callable[[Any, Any], Any], left: Code, right: Code) -> Code:
    if left.const and right.const:
        return constant(op(left.value, right.value))
    lf, rf = left.fn, right.fn
    if right.const:
        c = right.value

        def binary_const(ctx: Any) -> Any:
            return op(lf(ctx), c)

        return Code(binary_const)

    def binary(ctx: Any) -> Any:
        return op(lf(ctx), rf(ctx))

    return Code(binary)


def _compare(left: Code, ops: tuple[n.CompareOp, ...], rights: list[Code]) -> Code:
    if len(ops) == 1:
        return compare_pair(ops[0], left, rights[0])
    operands = [left, *rights]
    if all(code.const for code in operands):
        values = [code.value for code in operands]
        return constant(all(_PAIR_TESTS[op](values[i], values[i + 1]) for i, op in enumerate(ops)))
    first = left.fn
    steps = tuple((_PAIR_TESTS[op], code.fn) for op, code in zip(ops, rights, strict=True))

    def chain(ctx: Any) -> bool:
        a = first(ctx)
        for test, fn in steps:
            b = fn(ctx)
            if not test(a, b):
                return False
            a = b
        return True

    return Code(chain, strict=True)


def compare_pair(op: n.CompareOp, left: Code, right: Code) -> Code:
    """One comparison, specialised when one side is a constant."""
    test = _PAIR_TESTS[op]
    if left.const and right.const:
        return constant(test(left.value, right.value))
    if left.const and op in _MIRRORED:
        left, right, op = right, left, _MIRRORED[op]  # type: ignore[assignment]
    if right.const and left.path is not None:
        fused = fused_comparison(op, *left.path, right.value)
        if fused is not None:
            return Code(fused, strict=True)
    if right.const:
        special = _against_constant(op, left.fn, right.value)
        if special is not None:
            return Code(special, strict=True)
    lf, rf = left.fn, right.fn
    if right.const:
        c = right.value

        def compare_const(ctx: Any) -> bool:
            return test(lf(ctx), c)

        return Code(compare_const, strict=True)

    def compare(ctx: Any) -> bool:
        return test(lf(ctx), rf(ctx))

    return Code(compare, strict=True)


def _against_constant(op: str, fn: Fn, c: Any) -> Fn | None:
    """The hot cases: a field compared with a literal number, string, boolean, null or list."""
    if op in ("in", "not in"):
        return _in_literal_list(op == "in", fn, c) if isinstance(c, list) else None
    if c is None:
        return _is_null(op == "==", fn)
    if isinstance(c, bool):
        return _is_bool(op, fn, c)
    if isinstance(c, int | float):
        return _number_test(op, fn, c)
    if isinstance(c, str):
        return _string_test(op, fn, c)
    return None


def _is_null(equal: bool, fn: Fn) -> Fn:
    if equal:

        def is_null(ctx: Any) -> bool:
            return fn(ctx) is None

        return is_null

    def is_not_null(ctx: Any) -> bool:
        return fn(ctx) is not None

    return is_not_null


def _is_bool(op: str, fn: Fn, c: bool) -> Fn | None:
    if op == "==":

        def is_c(ctx: Any) -> bool:
            return fn(ctx) is c

        return is_c
    if op == "!=":

        def is_other_bool(ctx: Any) -> bool:
            a = fn(ctx)
            return a.__class__ is bool and a is not c

        return is_other_bool
    return None


def _number_test(op: str, fn: Fn, c: float) -> Fn:
    # `a.__class__ is int or … is float` keeps booleans, strings and null out without a function call.
    if op == ">":

        def gt(ctx: Any) -> bool:
            a = fn(ctx)
            return (a.__class__ is int or a.__class__ is float) and a > c

        return gt
    if op == ">=":

        def ge(ctx: Any) -> bool:
            a = fn(ctx)
            return (a.__class__ is int or a.__class__ is float) and a >= c

        return ge
    if op == "<":

        def lt(ctx: Any) -> bool:
            a = fn(ctx)
            return (a.__class__ is int or a.__class__ is float) and a < c

        return lt
    if op == "<=":

        def le(ctx: Any) -> bool:
            a = fn(ctx)
            return (a.__class__ is int or a.__class__ is float) and a <= c

        return le
    if op == "==":

        def eq(ctx: Any) -> bool:
            a = fn(ctx)
            return (a.__class__ is int or a.__class__ is float) and a == c

        return eq

    def ne(ctx: Any) -> bool:
        a = fn(ctx)
        return (a.__class__ is int or a.__class__ is float) and a != c

    return ne


def _string_test(op: str, fn: Fn, c: str) -> Fn:
    if op == "==":

        def str_eq(ctx: Any) -> bool:
            a = fn(ctx)
            return a.__class__ is str and a == c

        return str_eq
    if op == "!=":

        def str_ne(ctx: Any) -> bool:
            a = fn(ctx)
            return a.__class__ is str and a != c

        return str_ne
    order = _ORDER[op]

    def str_order(ctx: Any) -> bool:
        a = fn(ctx)
        return a.__class__ is str and order(a, c)

    return str_order


def _in_literal_list(positive: bool, fn: Fn, items: list[Any]) -> Fn:
    strings = frozenset(x for x in items if x.__class__ is str)
    numbers = frozenset(x for x in items if x.__class__ is int or x.__class__ is float)
    bools = frozenset(x for x in items if x.__class__ is bool)
    if positive:
        has_null = any(x is None for x in items)

        def in_list(ctx: Any) -> bool:
            a = fn(ctx)
            cls = a.__class__
            if cls is str:
                return a in strings
            if cls is int or cls is float:
                return a in numbers
            if cls is bool:
                return a in bools
            if a is None:
                return has_null  # `x in [null, …]` is an explicit test for a missing field
            return rt.member(a, items)

        return in_list

    def not_in_list(ctx: Any) -> bool:
        a = fn(ctx)
        cls = a.__class__
        if cls is str:
            return a not in strings
        if cls is int or cls is float:
            return a not in numbers
        if cls is bool:
            return a not in bools
        return rt.not_member(a, items)

    return not_in_list
