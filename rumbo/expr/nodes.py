"""The predicate language's own syntax tree, built from Python's `ast` by `parse` after the whitelist check.

Keeping a tree of our own (rather than passing `ast` nodes on) means the checker and the compiler can only
ever see constructs the language has: anything else was turned into an `Invalid` node and an error already.
Every node records `col`, the 0-based character offset in the source that error messages point at.
Nodes compare by identity (eq=False) so that the checker can key its inferred types by node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Key = str | int
Scalar = str | int | float | bool | None

# Where a path starts: the triggering event, or one part of the customer's profile. "profile" alone is
# kept as a root only so the checker can say that it needs a field after it.
Root = Literal["event", "traits", "consent", "tags", "segments", "profile"]

CompareOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
ArithOp = Literal["+", "-", "*", "/", "%"]


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """Base of every node: where it starts in the source."""

    col: int


@dataclass(frozen=True, slots=True, eq=False)
class Invalid(Node):
    """A construct that was rejected while parsing; its error is already recorded."""


@dataclass(frozen=True, slots=True, eq=False)
class Const(Node):
    """A literal number, string, boolean or null."""

    value: Scalar


@dataclass(frozen=True, slots=True, eq=False)
class ListLit(Node):
    """A list literal such as ['a', 'b'] (mostly the right side of `in`)."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Path(Node):
    """A field under one of the roots, e.g. event.properties.value -> ("event", ("properties", "value"))."""

    root: Root
    keys: tuple[Key, ...]
    key_cols: tuple[int, ...]  # where each key is written, for errors about one key


@dataclass(frozen=True, slots=True, eq=False)
class Get(Node):
    """Fields of a computed value, e.g. last('page_viewed').properties.url."""

    base: Node
    keys: tuple[Key, ...]
    key_cols: tuple[int, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True, eq=False)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, slots=True, eq=False)
class BoolOp(Node):
    op: Literal["and", "or"]
    values: tuple[Node, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Compare(Node):
    """A comparison chain: left ops[0] comparators[0] ops[1] comparators[1] …"""

    left: Node
    ops: tuple[CompareOp, ...]
    comparators: tuple[Node, ...]
    op_cols: tuple[int, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Arith(Node):
    op: ArithOp
    left: Node
    right: Node
    op_col: int


@dataclass(frozen=True, slots=True, eq=False)
class Call(Node):
    """A call of one of the helpers; `col` is where its name starts."""

    name: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...]
