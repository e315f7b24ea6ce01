"""The helpers a predicate may call, described as data: parameters, accepted types, result type.

The parser uses the names (to say "call it with parentheses"), the checker uses the signatures (arity,
argument types, which arguments must be literals), and `functions` holds what each one does at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from rumbo.expr.types import Type

_SCALARS = frozenset({Type.STRING, Type.NUMBER, Type.BOOL})
_EVERYTHING = frozenset(Type) - {Type.ANY}


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its name, the known types it accepts (ANY is always accepted), literal-only or not."""

    name: str
    accepts: frozenset[Type]
    literal: bool = False  # must be a string literal so the checker/runtime know it before evaluation
    keyword: bool = False  # may be passed as name=value


@dataclass(frozen=True, slots=True)
class Signature:
    """How a helper is called and what it returns."""

    params: tuple[Param, ...]
    returns: Type
    required: int  # how many leading params must be given
    variadic: bool = False  # the last param may repeat (coalesce)
    example: str = ""


def _sig(returns: Type, example: str, *params: Param, required: int | None = None) -> Signature:
    return Signature(params, returns, len(params) if required is None else required, example=example)


_STRING = frozenset({Type.STRING})
_EVENT_NAME = Param("event", _STRING, literal=True)
_TIMESTAMP = Param("ts", frozenset({Type.STRING, Type.NUMBER}))

HELPERS: dict[str, Signature] = {
    "count": _sig(
        Type.NUMBER,
        "count('order_completed', within='30d')",
        _EVENT_NAME,
        Param("within", _STRING, literal=True, keyword=True),
        required=1,
    ),
    "last": _sig(Type.EVENT, "last('page_viewed').properties.url", _EVENT_NAME),
    "in_segment": _sig(Type.BOOL, "in_segment('vip')", Param("segment", _STRING, literal=True)),
    "has_tag": _sig(Type.BOOL, "has_tag('beta')", Param("tag", _STRING)),
    "days_since": _sig(Type.NUMBER, "days_since(profile.traits.signed_up_at)", _TIMESTAMP),
    "days_until": _sig(Type.NUMBER, "days_until(profile.traits.renewal_at)", _TIMESTAMP),
    "hours_since": _sig(Type.NUMBER, "hours_since(last('cart_viewed').timestamp)", _TIMESTAMP),
    "local_hour": _sig(Type.NUMBER, "local_hour()"),
    "local_weekday": _sig(Type.NUMBER, "local_weekday()"),
    "lower": _sig(Type.STRING, "lower(properties.country)", Param("s", _STRING)),
    "upper": _sig(Type.STRING, "upper(properties.country)", Param("s", _STRING)),
    "contains": _sig(
        Type.BOOL,
        "contains(properties.skus, 'A1')",
        Param("haystack", frozenset({Type.STRING, Type.LIST, Type.SET})),
        Param("needle", _SCALARS),
    ),
    "starts_with": _sig(
        Type.BOOL, "starts_with(context.page.path, '/cart')", Param("s", _STRING), Param("prefix", _STRING)
    ),
    "len": _sig(
        Type.NUMBER,
        "len(properties.items)",
        Param("x", frozenset({Type.STRING, Type.LIST, Type.SET, Type.OBJECT})),
    ),
    "exists": _sig(Type.BOOL, "exists(properties.coupon)", Param("x", _EVERYTHING)),
    "coalesce": Signature(
        (Param("value", _EVERYTHING),), Type.ANY, 1, variadic=True, example="coalesce(properties.value, 0)"
    ),
    "now": _sig(Type.NUMBER, "now()"),
}

TYPE_WORDS: dict[Type, str] = {
    Type.ANY: "a value of unknown type",
    Type.BOOL: "a boolean",
    Type.NUMBER: "a number",
    Type.STRING: "a string",
    Type.NULL: "null",
    Type.LIST: "a list",
    Type.SET: "a set",
    Type.OBJECT: "an object",
    Type.EVENT: "an event",
}


def describe(types: frozenset[Type]) -> str:
    """'a string or a number' for a set of accepted types, in a stable order."""
    words = [TYPE_WORDS[t] for t in Type if t in types]
    if len(words) <= 2:
        return " or ".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]
