"""Static checking: infer a type for every node, collect every problem, and list the aggregates needed.

The checker never stops at the first problem: the journey validator shows an author everything wrong with
a predicate at once. A node whose own check failed gets type ANY so that one mistake does not cascade into
a string of follow-on errors about the same spot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from rumbo.durations import parse_duration
from rumbo.errors import DurationInvalid, ExpressionError
from rumbo.expr import nodes as n
from rumbo.expr.helpers import HELPERS, TYPE_WORDS, Param, Signature, describe
from rumbo.expr.parse import suggest
from rumbo.expr.types import AggregateNeed, Scope, Type

# Known top-level fields of a Segment-shaped event (the rest are ANY).
EVENT_FIELDS: Final[dict[str, Type]] = {
    "event": Type.STRING,
    "type": Type.STRING,
    "channel": Type.STRING,
    "messageId": Type.STRING,
    "userId": Type.STRING,
    "anonymousId": Type.STRING,
    "customer": Type.STRING,
    "workspace": Type.STRING,
    "properties": Type.OBJECT,
    "context": Type.OBJECT,
    "traits": Type.OBJECT,
}
# Types that have no fields: reading `.x` of one of these is a mistake the checker can see.
_LEAF_TYPES: Final = frozenset({Type.BOOL, Type.NUMBER, Type.STRING, Type.NULL, Type.SET})
_ORDERABLE: Final = frozenset({Type.NUMBER, Type.STRING})
_CONTAINERS: Final = frozenset({Type.LIST, Type.SET, Type.STRING, Type.OBJECT})


def literal_type(value: n.Scalar) -> Type:
    if value is None:
        return Type.NULL
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, int | float):
        return Type.NUMBER
    return Type.STRING


def _compatible(a: Type, b: Type) -> bool:
    """Whether == between values of these types can ever be true (null is always allowed: x == null)."""
    return a is b or Type.ANY in (a, b) or Type.NULL in (a, b)


class Checker:
    """Infers types bottom-up; `types`, `errors` and `needs` are filled in as it goes."""

    def __init__(self, source: str, scope: Scope) -> None:
        self.source = source
        self.scope = scope
        self.types: dict[n.Node, Type] = {}
        self.errors: list[ExpressionError] = []
        self.needs: set[AggregateNeed] = set()

    def error(self, column: int, message: str, hint: str) -> Type:
        self.errors.append(ExpressionError(message, self.source, column, hint))
        return Type.ANY

    def infer(self, node: n.Node) -> Type:
        found = self._infer(node)
        self.types[node] = found
        return found

    def _infer(self, node: n.Node) -> Type:
        match node:
            case n.Invalid():
                return Type.ANY
            case n.Const(value=value):
                return literal_type(value)
            case n.ListLit(items=items):
                for item in items:
                    self.infer(item)
                return Type.LIST
            case n.Path():
                return self.path(node)
            case n.Get(base=base, keys=keys, key_cols=key_cols):
                return self.get(self.infer(base), keys, key_cols, node)
            case n.Not(operand=operand):
                self.infer(operand)
                return Type.BOOL
            case n.Neg(operand=operand):
                found = self.infer(operand)
                if found not in (Type.NUMBER, Type.ANY):
                    return self.error(
                        node.col,
                        f"unary minus needs a number, not {TYPE_WORDS[found]}",
                        "negate numbers only",
                    )
                return Type.NUMBER
            case n.BoolOp(values=operands):
                for operand in operands:
                    self.infer(operand)
                return Type.BOOL
            case n.Compare():
                return self.compare(node)
            case n.Arith():
                return self.arith(node)
            case n.Call():
                return self.call(node)
        raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover - the tree has no other nodes

    # Paths ---------------------------------------------------------------------------------------------

    def path(self, node: n.Path) -> Type:
        keys, cols = node.keys, node.key_cols
        match node.root:
            case "profile":
                return self.error(
                    node.col,
                    "profile is not a value by itself",
                    "name a field: profile.traits.x, profile.consent.email, profile.tags or profile.segments",
                )
            case "event":
                if not self.scope.has_event:
                    return self.error(
                        node.col,
                        "there is no triggering event here, so event fields cannot be read",
                        "read profile.traits.x, or look back with count('name') / last('name')",
                    )
                return self.event_field(keys, cols, self.scope.event_properties)
            case "traits":
                return self.declared(keys, cols, self.scope.traits, Type.OBJECT, "profile.traits")
            case "consent":
                if any(isinstance(key, int) for key in keys):
                    bad = next(c for k, c in zip(keys, cols, strict=True) if isinstance(k, int))
                    return self.error(
                        bad,
                        "consent is looked up by channel name",
                        "write profile.consent.email or ['email']",
                    )
                return Type.BOOL if keys else Type.OBJECT
            case "tags" | "segments":
                if keys:
                    helper = "has_tag" if node.root == "tags" else "in_segment"
                    return self.error(
                        cols[0],
                        f"profile.{node.root} is a set of names and has no fields",
                        f"write {helper}('name') or 'name' in profile.{node.root}",
                    )
                return Type.SET
        raise AssertionError(node.root)  # pragma: no cover

    def event_field(
        self, keys: tuple[n.Key, ...], cols: tuple[int, ...], properties: Mapping[str, Type] | None
    ) -> Type:
        """The type of event.<keys>; `properties` declares event.properties.* (None: all ANY)."""
        if not keys:
            return Type.EVENT
        top = EVENT_FIELDS.get(keys[0], Type.ANY) if isinstance(keys[0], str) else Type.ANY
        if len(keys) == 1:
            return top
        if top in _LEAF_TYPES:
            return self.no_field(top, f"event.{keys[0]}", keys[1], cols[1])
        if keys[0] == "properties" and properties is not None:
            return self.declared(keys[1:], cols[1:], properties, Type.OBJECT, "properties")
        return Type.ANY

    def declared(
        self,
        keys: tuple[n.Key, ...],
        cols: tuple[int, ...],
        table: Mapping[str, Type],
        whole: Type,
        label: str,
    ) -> Type:
        """The declared type of a dotted key, reporting fields read off a declared scalar."""
        if not keys:
            return whole
        found = Type.ANY
        for index, key in enumerate(keys):
            if index > 0 and found in _LEAF_TYPES:
                prefix = ".".join(str(k) for k in keys[:index])
                return self.no_field(found, f"{label}.{prefix}", key, cols[index])
            if not all(isinstance(k, str) for k in keys[: index + 1]):
                return Type.ANY
            found = table.get(".".join(str(k) for k in keys[: index + 1]), Type.ANY)
        return found

    def no_field(self, found: Type, where: str, key: n.Key, column: int) -> Type:
        return self.error(
            column,
            f"{where} is {TYPE_WORDS[found]} and has no field {key!r}",
            f"compare {where} itself, or check the field name",
        )

    def get(self, base: Type, keys: tuple[n.Key, ...], cols: tuple[int, ...], node: n.Get) -> Type:
        if base is Type.EVENT:
            # Properties of a looked-up event are not those the scope declares for the triggering one.
            return self.event_field(keys, cols, None)
        if base in (Type.OBJECT, Type.LIST, Type.ANY):
            return Type.ANY
        return self.error(
            cols[0],
            f"{TYPE_WORDS[base]} has no field {keys[0]!r}",
            "read fields of events and objects only, e.g. last('x').properties.y",
        )

    # Operators -----------------------------------------------------------------------------------------

    def compare(self, node: n.Compare) -> Type:
        left = node.left
        left_type = self.infer(left)
        for op, right, op_col in zip(node.ops, node.comparators, node.op_cols, strict=True):
            right_type = self.infer(right)
            if op in ("<", "<=", ">", ">="):
                self.ordering(op, left_type, right_type, op_col)
            elif op in ("==", "!="):
                if not _compatible(left_type, right_type):
                    self.error(
                        op_col,
                        f"{TYPE_WORDS[left_type]} is compared with {TYPE_WORDS[right_type]} by {op}, "
                        "which is never true",
                        _mismatch_hint(left_type, right_type),
                    )
            else:
                self.membership(op, left_type, right, right_type, op_col)
            left, left_type = right, right_type
        return Type.BOOL

    def ordering(self, op: str, left: Type, right: Type, op_col: int) -> None:
        for side in (left, right):
            if side is Type.NULL:
                self.error(op_col, f"ordering with null ({op} null) is never true", "test exists(x) instead")
                return
            if side not in _ORDERABLE and side is not Type.ANY:
                self.error(
                    op_col,
                    f"{TYPE_WORDS[side]} cannot be ordered with {op}",
                    "order numbers or strings only; use == for booleans, len(x) for lists and sets",
                )
                return
        if left is not right and Type.ANY not in (left, right):
            self.error(
                op_col,
                f"{TYPE_WORDS[left]} cannot be ordered against {TYPE_WORDS[right]}",
                _mismatch_hint(left, right),
            )

    def membership(self, op: str, left: Type, right: n.Node, right_type: Type, op_col: int) -> None:
        if right_type not in _CONTAINERS and right_type is not Type.ANY:
            self.error(
                op_col,
                f"the right side of `{op}` must be a list, set, string or object, "
                f"not {TYPE_WORDS[right_type]}",
                "write a list literal, e.g. properties.country in ['ES', 'PT']",
            )
            return
        if left in (Type.ANY, Type.NULL):
            return
        if right_type in (Type.STRING, Type.SET, Type.OBJECT) and left is not Type.STRING:
            self.error(
                op_col,
                f"{TYPE_WORDS[left]} can never be {op} {TYPE_WORDS[right_type]} of strings",
                "look for a string, e.g. 'vip' in profile.segments",
            )
        elif isinstance(right, n.ListLit) and right.items:
            item_types = [self.types.get(item, Type.ANY) for item in right.items]
            if not any(_compatible(left, t) for t in item_types):
                self.error(
                    op_col,
                    f"{TYPE_WORDS[left]} is looked up in a list of {describe(frozenset(item_types))}",
                    _mismatch_hint(left, item_types[0]),
                )

    def arith(self, node: n.Arith) -> Type:
        for side in (self.infer(node.left), self.infer(node.right)):
            if side not in (Type.NUMBER, Type.ANY):
                hint = (
                    "to join or test text use starts_with/contains; compare strings with =="
                    if side is Type.STRING
                    else "arithmetic works on numbers only"
                )
                return self.error(node.op_col, f"arithmetic ({node.op}) on {TYPE_WORDS[side]}", hint)
        return Type.NUMBER

    # Helpers -------------------------------------------------------------------------------------------

    def call(self, node: n.Call) -> Type:
        signature = HELPERS.get(node.name)
        if signature is None:
            for arg in node.args:
                self.infer(arg)
            for _, value in node.kwargs:
                self.infer(value)
            close = suggest(node.name, list(HELPERS))
            return self.error(
                node.col,
                f"unknown helper {node.name}()",
                f"did you mean {close}()?" if close else "the helpers are " + ", ".join(HELPERS),
            )
        bound = self.bind(node, signature)
        if bound is None:
            return signature.returns
        arg_types: list[Type] = []
        failed = False
        for param, arg in bound:
            found = self.infer(arg)
            arg_types.append(found)
            if not self.argument_ok(node, signature, param, arg, found):
                failed = True
        if failed:
            return signature.returns
        return self.helper_specifics(node, bound, arg_types, signature)

    def bind(self, node: n.Call, signature: Signature) -> list[tuple[Param, n.Node]] | None:
        """Pairs each argument with its parameter; None after reporting an arity or keyword problem."""
        params = signature.params
        example = f"write e.g. {signature.example}"
        bound: list[tuple[Param, n.Node]] = []
        for index, arg in enumerate(node.args):
            if index < len(params):
                bound.append((params[index], arg))
            elif signature.variadic:
                bound.append((params[-1], arg))
            else:
                for leftover in node.args[index:]:
                    self.infer(leftover)
                self.error(
                    arg.col,
                    f"{node.name}() takes {_count_words(len(params))}, got {len(node.args)}",
                    example,
                )
                return None
        given = {param.name for param, _ in bound}
        for name, value in node.kwargs:
            param = next((p for p in params if p.name == name), None)
            if param is None or not param.keyword:
                self.infer(value)
                self.error(value.col, f"{node.name}() has no keyword argument {name!r}", example)
                return None
            if name in given:
                self.infer(value)
                self.error(value.col, f"{node.name}() got {name!r} twice", example)
                return None
            given.add(name)
            bound.append((param, value))
        missing = [p.name for p in params[: signature.required] if p.name not in given]
        if missing:
            self.error(node.col, f"{node.name}() is missing its argument {missing[0]!r}", example)
            return None
        return bound

    def argument_ok(self, node: n.Call, signature: Signature, param: Param, arg: n.Node, found: Type) -> bool:
        example = f"write e.g. {signature.example}"
        if param.literal and not (isinstance(arg, n.Const) and isinstance(arg.value, str)):
            what = "a duration" if param.name == "within" else "a name"
            self.error(
                arg.col,
                f"{node.name}()'s argument {param.name!r} must be {what} in quotes, known before evaluation",
                example,
            )
            return False
        if found is not Type.ANY and found not in param.accepts:
            self.error(
                arg.col,
                f"{node.name}()'s argument {param.name!r} must be {describe(param.accepts)}, "
                f"not {TYPE_WORDS[found]}",
                example,
            )
            return False
        return True

    def helper_specifics(
        self, node: n.Call, bound: list[tuple[Param, n.Node]], arg_types: list[Type], signature: Signature
    ) -> Type:
        """The checks and results particular to one helper: names, windows, needs, coalesce's type."""
        values = {param.name: arg for param, arg in bound}
        name = node.name
        if name in ("count", "last"):
            event_arg = values["event"]
            assert isinstance(event_arg, n.Const) and isinstance(event_arg.value, str)
            event = event_arg.value
            known = self.scope.known_events
            if known is not None and event not in known:
                close = suggest(event, sorted(known))
                self.error(
                    event_arg.col,
                    f"the event {event!r} is not known here",
                    f"did you mean {close!r}?" if close else "known events: " + ", ".join(sorted(known)),
                )
            window = self.window(values.get("within"))
            if window is not False:
                self.needs.add(AggregateNeed(name, event, window if name == "count" else None))  # type: ignore[arg-type]
        elif name == "in_segment":
            segment_arg = values["segment"]
            assert isinstance(segment_arg, n.Const) and isinstance(segment_arg.value, str)
            segments = self.scope.segments
            if segments is not None and segment_arg.value not in segments:
                close = suggest(segment_arg.value, sorted(segments))
                self.error(
                    segment_arg.col,
                    f"the segment {segment_arg.value!r} is not known here",
                    f"did you mean {close!r}?" if close else "known segments: " + ", ".join(sorted(segments)),
                )
        elif name == "contains":
            if arg_types[0] is Type.STRING and arg_types[1] not in (Type.STRING, Type.ANY):
                self.error(
                    values["needle"].col,
                    f"a string can only contain a string, not {TYPE_WORDS[arg_types[1]]}",
                    "quote the needle, e.g. contains(properties.sku, '12')",
                )
        elif name == "coalesce":
            non_null = {t for t in arg_types if t is not Type.NULL}
            return non_null.pop() if len(non_null) == 1 else Type.ANY
        return signature.returns

    def window(self, arg: n.Node | None) -> float | bool | None:
        """The count() window in seconds, None without one, or False after reporting a bad one."""
        if arg is None:
            return None
        assert isinstance(arg, n.Const)
        try:
            seconds = parse_duration(arg.value)
        except DurationInvalid:
            self.error(
                arg.col,
                f"{arg.value!r} is not a duration",
                "write a number and a unit, e.g. within='30d', '12h', '90m', '2w' or '1d12h'",
            )
            return False
        if seconds <= 0:
            self.error(arg.col, f"the window {arg.value!r} is not positive", "write a window such as '30d'")
            return False
        return seconds


def _count_words(count: int) -> str:
    if count == 0:
        return "no arguments"
    return f"{count} argument{'s' if count != 1 else ''}"


def _mismatch_hint(left: Type, right: Type) -> str:
    pair = {left, right}
    if pair == {Type.NUMBER, Type.STRING}:
        return "compare a number with a number (no quotes) or a string with a string (quotes)"
    if Type.BOOL in pair:
        return "compare with true or false, or test the value itself"
    if pair & {Type.SET, Type.LIST}:
        return "test membership with `'x' in …` or has_tag('x')"
    return "compare values of the same type"


PREDICATE_HINTS: Final[dict[Type, str]] = {
    Type.NUMBER: "did you mean `{source} > 0`?",
    Type.STRING: "did you mean `{source} == '…'` or `exists({source})`?",
    Type.NULL: "write true or false",
    Type.LIST: "did you mean `len({source}) > 0` or `'x' in {source}`?",
    Type.SET: "did you mean `len({source}) > 0` or `'x' in {source}`?",
    Type.OBJECT: "did you mean `exists({source})`?",
    Type.EVENT: "did you mean `exists({source})`?",
}


def predicate_error(source: str, found: Type) -> ExpressionError | None:
    """The error for a whole predicate that is definitely not true-or-false, or None if it may be."""
    if found in (Type.BOOL, Type.ANY):
        return None
    return ExpressionError(
        f"a predicate must be true or false, but this is {TYPE_WORDS[found]}",
        source,
        0,
        PREDICATE_HINTS[found].format(source=source.strip()),
    )
