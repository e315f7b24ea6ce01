"""A compiled sub-expression: the closure that computes it, and what the compiler knows about it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A compiled (sub-)expression: reads the evaluation context, returns a value. The context is typed Any here
# because closures are called in the hot path and the Protocol check adds nothing at run time.
Fn = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Code:
    """`fn` computes the value; `strict` says it always returns True or False (never another value);
    `const` says the value is known at compile time (then `fn` just returns `value`); `path` describes a
    plain field read."""

    fn: Fn
    strict: bool = False
    const: bool = False
    value: Any = None
    # For a plain field read: the root reader and the keys, so a comparison can read the field inline.
    path: tuple[Fn, tuple[str, ...]] | None = None


def constant(value: Any) -> Code:
    """A compile-time value."""

    def fn(ctx: Any) -> Any:
        return value

    return Code(fn, value is True or value is False, True, value)
