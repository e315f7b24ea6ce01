"""Run-time value semantics: total operations on JSON-like values that never raise.

Events come from outside, so a field may be missing or hold an unexpected type. Every operation here gives a
defined answer instead of an exception: a comparison involving null or mixing types is false; arithmetic
involving null, non-numbers, division by zero or overflow is null. Booleans are not numbers here (Python
would say True == 1), so a boolean property never equals or orders against a number by accident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any, Final

# Kinds decide what may be compared with what. Exact classes keep the check to one dict lookup.
_NUMBER: Final = "number"
_STRING: Final = "string"
_BOOL: Final = "bool"
_KIND_OF: Final[dict[type, str]] = {int: _NUMBER, float: _NUMBER, str: _STRING, bool: _BOOL}


def kind(value: object) -> str | None:
    """ "number", "string", "bool", "list", "object", "set" or None (null or something else)."""
    found = _KIND_OF.get(value.__class__)
    if found is not None:
        return found
    if value is None:
        return None
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int | float):
        return _NUMBER
    if isinstance(value, str):
        return _STRING
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Set):
        return "set"
    if isinstance(value, Sequence):
        return "list"
    return None


def is_number(value: object) -> bool:
    """True for int and float, false for bool (which Python counts as an int)."""
    cls = value.__class__
    return cls is int or cls is float or (cls is not bool and isinstance(value, int | float))


def equal(a: object, b: object) -> bool:
    """== with the language's rules: null and mixed kinds are never equal."""
    if a is None or b is None:
        return False
    ka = kind(a)
    if ka is None or ka != kind(b):
        return False
    return bool(a == b)


def not_equal(a: object, b: object) -> bool:
    """!= with the language's rules: false (not true) when either side is null or the kinds differ."""
    if a is None or b is None:
        return False
    ka = kind(a)
    if ka is None or ka != kind(b):
        return False
    return bool(a != b)


def _orderable(a: object, b: object) -> bool:
    ka = kind(a)
    return ka in (_NUMBER, _STRING) and ka == kind(b)


def less(a: Any, b: Any) -> bool:
    return _orderable(a, b) and bool(a < b)


def less_equal(a: Any, b: Any) -> bool:
    return _orderable(a, b) and bool(a <= b)


def greater(a: Any, b: Any) -> bool:
    return _orderable(a, b) and bool(a > b)


def greater_equal(a: Any, b: Any) -> bool:
    return _orderable(a, b) and bool(a >= b)


def member(item: object, container: object) -> bool:
    """`item in container`: substring for strings, element for lists and sets, key for objects."""
    if item is None or container is None:
        return False
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, Mapping):
        return isinstance(item, str) and item in container
    if isinstance(container, Set):
        if item.__class__ is str:
            return item in container
        # Python's sets treat 1 and True as one element, so other kinds are compared one by one.
        return any(equal(item, x) for x in container)
    if isinstance(container, Sequence):
        return any(equal(item, x) for x in container)
    return False


def not_member(item: object, container: object) -> bool:
    """`item not in container`: false, like every comparison, when either side is null or unusable."""
    if item is None or container is None or kind(container) not in (_STRING, "object", "set", "list"):
        return False
    if kind(container) in (_STRING, "object") and not isinstance(item, str):
        return False
    return not member(item, container)


def truthy(value: object) -> bool:
    """Python truthiness, so `properties.flag and …` works on present, non-empty values."""
    try:
        return bool(value)
    except Exception:  # a foreign object with a broken __bool__/__len__ is simply not true
        return False


def add(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)):
        return None
    try:
        return a + b
    except ArithmeticError:
        return None


def subtract(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)):
        return None
    try:
        return a - b
    except ArithmeticError:
        return None


def multiply(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)):
        return None
    try:
        return a * b
    except ArithmeticError:
        return None


def divide(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)) or b == 0:
        return None
    try:
        return a / b
    except ArithmeticError:
        return None


def modulo(a: Any, b: Any) -> Any:
    if not (is_number(a) and is_number(b)) or b == 0:
        return None
    try:
        return a % b
    except ArithmeticError:
        return None


def negate(a: Any) -> Any:
    return -a if is_number(a) else None


def get(value: Any, key: str | int) -> Any:
    """value[key] for objects and lists; null when the value is missing, the wrong kind, or lacks the key."""
    if value.__class__ is dict:
        return value.get(key)
    if value is None:
        return None
    if isinstance(value, Mapping):
        try:
            return value.get(key)
        except TypeError:
            return None
    if (
        key.__class__ is int
        and isinstance(value, Sequence)
        and not isinstance(value, str | bytes)
        and -len(value) <= int(key) < len(value)
    ):
        return value[int(key)]
    return None


def walk(value: Any, keys: tuple[str | int, ...]) -> Any:
    """get() along a path of keys."""
    for key in keys:
        value = value.get(key) if value.__class__ is dict else get(value, key)
    return value
