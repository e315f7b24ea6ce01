"""Parsing: Python's own parser, then a strict whitelist walk into the language's tree (`nodes`).

User text is only ever given to `ast.parse(..., mode="eval")`, which builds a tree and runs nothing. The
walk below accepts a short list of node types and turns each into a `nodes.Node`; everything else (calls of
anything but the helpers, attribute access outside the roots, dunder names, lambdas, comprehensions, walrus,
f-strings, starred arguments, …) becomes an `Invalid` node plus an ExpressionError naming the construct and
its column. The walk keeps going after a rejection so that `check()` can report every problem at once.
"""

from __future__ import annotations

import ast
import difflib

from rumbo.errors import ExpressionError
from rumbo.expr import nodes as n
from rumbo.expr.helpers import HELPERS

ROOT_NAMES = ("event", "properties", "context", "profile")
PROFILE_FIELDS: dict[n.Key, n.Root] = {
    "traits": "traits",
    "consent": "consent",
    "tags": "tags",
    "segments": "segments",
}
# Deeper trees are refused: real predicates are shallow, and the checker, the compiler and every
# evaluation recurse once per level, so a bound here keeps all of them far from Python's recursion limit.
MAX_DEPTH = 64
_LITERAL_NAMES: dict[str, n.Scalar] = {"true": True, "false": False, "null": None}

_COMPARE_OPS: dict[type[ast.cmpop], n.CompareOp] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ARITH_OPS: dict[type[ast.operator], n.ArithOp] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Mod: "%",
}
# Operators Python has and the language does not, with what to write instead.
_REJECTED_BINOPS: dict[type[ast.operator], tuple[str, str]] = {
    ast.Pow: ("the power operator **", "multiply instead, e.g. x * x"),
    ast.FloorDiv: ("floor division //", "use / (division gives a fraction)"),
    ast.BitAnd: ("the bitwise operator &", "write `and` for both conditions"),
    ast.BitOr: ("the bitwise operator |", "write `or` for either condition"),
    ast.BitXor: ("the bitwise operator ^", "write (a and not b) or (b and not a)"),
    ast.LShift: ("the shift operator <<", "use * with a power of two"),
    ast.RShift: ("the shift operator >>", "use / with a power of two"),
    ast.MatMult: ("the operator @", "use * for multiplication"),
}
# Constructs with a name a journey author will recognise, and what to write instead.
_REJECTED_NODES: dict[type[ast.AST], tuple[str, str]] = {
    ast.Lambda: ("lambda", "write the condition itself; predicates cannot define functions"),
    ast.ListComp: ("a list comprehension", "use contains(list, value) or `value in list`"),
    ast.SetComp: ("a set comprehension", "use contains(list, value) or `value in list`"),
    ast.DictComp: ("a dict comprehension", "read fields with dots, e.g. event.properties.x"),
    ast.GeneratorExp: ("a generator expression", "use contains(list, value) or `value in list`"),
    ast.NamedExpr: ("the walrus operator :=", "predicates cannot assign; repeat the expression"),
    ast.JoinedStr: ("an f-string", "compare the parts separately, or use starts_with/contains"),
    ast.FormattedValue: ("an f-string", "compare the parts separately, or use starts_with/contains"),
    ast.Starred: ("a starred expression (*x)", "pass the arguments one by one"),
    ast.IfExp: ("a conditional expression (x if c else y)", "use (c and x) or y, or coalesce(a, b)"),
    ast.Tuple: ("a tuple", "write a list literal in square brackets, e.g. ['a', 'b']"),
    ast.Set: ("a set literal", "write a list literal in square brackets, e.g. ['a', 'b']"),
    ast.Dict: ("a dict literal", "compare single fields instead, e.g. event.properties.x == 1"),
    ast.Slice: ("a slice", "index one element with a literal, e.g. xs[0]"),
    ast.Await: ("await", "predicates are evaluated synchronously; remove it"),
    ast.Yield: ("yield", "remove it"),
    ast.YieldFrom: ("yield from", "remove it"),
}


class _Source:
    """Turns the parser's (line, UTF-8 byte column) positions into character offsets in the source."""

    def __init__(self, text: str, shift: int) -> None:
        self.text = text
        self.shift = shift
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def offset(self, lineno: int, col_bytes: int) -> int:
        index = min(max(lineno, 1), len(self.lines)) - 1
        line = self.lines[index]
        chars = len(line.encode("utf-8")[:col_bytes].decode("utf-8", errors="ignore"))
        return self.shift + self.starts[index] + chars

    def of(self, node: ast.AST) -> int:
        return self.offset(int(getattr(node, "lineno", 1) or 1), int(getattr(node, "col_offset", 0) or 0))

    def end_of(self, node: ast.AST) -> int:
        end_line = int(getattr(node, "end_lineno", None) or getattr(node, "lineno", 1) or 1)
        end_col: int | None = getattr(node, "end_col_offset", None)
        if end_col is None:
            return self.of(node)
        return self.offset(end_line, end_col)

    def next_token(self, after: int) -> int:
        """The first offset at or after `after` that is not blank or a closing parenthesis."""
        text = self.text
        at = after - self.shift
        while at < len(text) and (text[at].isspace() or text[at] == ")"):
            at += 1
        return at + self.shift


class _TooDeep(Exception):
    """Raised inside the walk to abandon an absurdly nested expression at `column`."""

    def __init__(self, column: int) -> None:
        super().__init__(column)
        self.column = column


def suggest(name: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The closest valid name to a misspelt one, if any is close enough to be a likely typo."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def parse(source: str) -> tuple[n.Node, list[ExpressionError]]:
    """Parse `source` into the language's tree; the errors list is empty when every construct is allowed."""
    stripped = source.lstrip()
    shift = len(source) - len(stripped)
    if not stripped.strip():
        return n.Invalid(0), [
            ExpressionError(
                "the expression is empty", source, 0, "write a condition, e.g. properties.value > 20"
            )
        ]
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        return n.Invalid(0), [_syntax_error(exc, source, stripped, shift)]
    except (ValueError, RecursionError, MemoryError) as exc:
        # NUL bytes and absurdly deep nesting are refused by the parser itself without a position.
        return n.Invalid(0), [
            ExpressionError(
                f"the expression cannot be parsed ({exc.__class__.__name__})",
                source,
                0,
                "remove NUL characters and deeply nested brackets",
            )
        ]
    walker = _Walker(source, _Source(stripped, shift))
    try:
        node = walker.walk(tree.body)
    except _TooDeep as too_deep:
        message = f"the expression is nested more than {MAX_DEPTH} levels deep"
        return n.Invalid(too_deep.column), [
            ExpressionError(message, source, too_deep.column, "split it into simpler conditions")
        ]
    return node, walker.errors


def _syntax_error(exc: SyntaxError, source: str, stripped: str, shift: int) -> ExpressionError:
    if not exc.offset:
        # Python reports input that stops mid-expression ("a ==", "x and") at offset 0.
        return ExpressionError(
            "syntax error: the expression ends too early",
            source,
            len(source.rstrip()),
            "complete it: an operand or closing bracket is missing at the end",
        )
    lines = stripped.split("\n")
    lineno = min(max(exc.lineno or 1, 1), len(lines))
    col = max((exc.offset or 1) - 1, 0)
    start = sum(len(line) + 1 for line in lines[: lineno - 1])
    column = min(shift + start + col, max(len(source) - 1, 0))
    message = exc.msg or "invalid syntax"
    if "\n" in stripped.strip():
        hint = "write the expression on one line, or put it in parentheses"
    else:
        hint = "check for a missing operand, quote or bracket near this column"
    return ExpressionError(f"syntax error: {message}", source, column, hint)


class _Walker:
    """Converts whitelisted `ast` nodes and records an error for everything else."""

    def __init__(self, source: str, positions: _Source) -> None:
        self.source = source
        self.pos = positions
        self.errors: list[ExpressionError] = []
        self.depth = 0

    def reject(self, column: int, message: str, hint: str) -> n.Invalid:
        self.errors.append(ExpressionError(message, self.source, column, hint))
        return n.Invalid(column)

    def walk(self, node: ast.expr) -> n.Node:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooDeep(self.pos.of(node))
            return self.convert(node)
        finally:
            self.depth -= 1

    def convert(self, node: ast.expr) -> n.Node:
        col = self.pos.of(node)
        match node:
            case ast.Constant(value=value):
                return self.constant(value, col)
            case ast.Name(id=name):
                return self.name(name, col)
            case ast.Attribute(value=value, attr=attr):
                attr_col = self.pos.end_of(node) - len(attr)
                if attr.startswith("__"):
                    return self.reject(
                        attr_col,
                        f"the dunder name {attr!r} is not allowed",
                        f"if a field really has that name, write ['{attr}']",
                    )
                return self.extend(self.walk(value), attr, attr_col, col)
            case ast.Subscript(value=value, slice=index):
                key = self.subscript_key(index)
                if key is None:
                    return n.Invalid(col)
                return self.extend(self.walk(value), key, self.pos.of(index), col)
            case ast.BoolOp(op=op, values=values):
                return n.BoolOp(col, "and" if isinstance(op, ast.And) else "or", self.walk_all(values))
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return n.Not(col, self.walk(operand))
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return n.Neg(col, self.walk(operand))
            case ast.UnaryOp(op=ast.UAdd()):
                return self.reject(col, "unary plus is not allowed", "remove the leading +")
            case ast.UnaryOp(op=ast.Invert()):
                return self.reject(col, "the bitwise operator ~ is not allowed", "write `not` to negate")
            case ast.BinOp(op=op, left=left, right=right):
                return self.binop(node, op, left, right, col)
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                return self.compare(left, ops, comparators, col)
            case ast.List(elts=elts):
                return n.ListLit(col, self.walk_all(elts))
            case ast.Call():
                return self.call(node, col)
        return self.reject_construct(node, col)

    def walk_all(self, values: list[ast.expr]) -> tuple[n.Node, ...]:
        return tuple(self.walk(value) for value in values)

    def reject_construct(self, node: ast.AST, col: int) -> n.Invalid:
        named = _REJECTED_NODES.get(type(node))
        if named is not None:
            what, hint = named
            return self.reject(col, f"{what} is not allowed in a predicate", hint)
        return self.reject(
            col,
            f"the construct {type(node).__name__} is not allowed in a predicate",
            "use fields, literals, comparisons, and/or/not, arithmetic and the helpers listed in the docs",
        )

    def constant(self, value: object, col: int) -> n.Node:
        if value is None or isinstance(value, bool | int | float | str):
            return n.Const(col, value)
        if isinstance(value, bytes):
            return self.reject(col, "a bytes literal is not allowed", "remove the b prefix")
        if isinstance(value, complex):
            return self.reject(col, "a complex number is not allowed", "write a plain number")
        return self.reject(col, f"the literal {value!r} is not allowed", "write a number, string or null")

    def name(self, name: str, col: int) -> n.Node:
        if name in _LITERAL_NAMES:
            return n.Const(col, _LITERAL_NAMES[name])
        if name == "event":
            return n.Path(col, "event", (), ())
        if name in ("properties", "context"):
            return n.Path(col, "event", (name,), (col,))
        if name == "profile":
            return n.Path(col, "profile", (), ())
        if name.startswith("__"):
            return self.reject(col, f"the dunder name {name!r} is not allowed", "start from event or profile")
        if name in HELPERS:
            return self.reject(
                col, f"the helper {name} is used without calling it", f"call it with parentheses: {name}(…)"
            )
        close = suggest(name, ROOT_NAMES)
        hint = f"did you mean {close}?" if close else "start from event, properties, context or profile"
        return self.reject(col, f"unknown name {name!r}", hint)

    def subscript_key(self, index: ast.expr) -> n.Key | None:
        """A subscript's literal key, or None after recording why it is not one."""
        col = self.pos.of(index)
        match index:
            case ast.Constant(value=str() | int() as key) if not isinstance(key, bool):
                return key
            case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=int() as key)) if not isinstance(
                key, bool
            ):
                return -key
            case ast.Slice():
                self.reject_construct(index, col)
                return None
        self.reject(
            col,
            "a subscript key must be a literal string or integer",
            "write the key itself, e.g. event.properties['Order ID'] or xs[0]",
        )
        return None

    def extend(self, base: n.Node, key: n.Key, key_col: int, col: int) -> n.Node:
        """`base.key` or `base[key]`: grows a path, or reads a field of a computed value."""
        match base:
            case n.Invalid():
                return base
            case n.Path(root="profile"):
                field = PROFILE_FIELDS.get(key)
                if field is not None:
                    return n.Path(col, field, (), ())
                close = suggest(str(key), [str(name) for name in PROFILE_FIELDS])
                return self.reject(
                    key_col,
                    f"profile has no field {key!r}",
                    (f"did you mean profile.{close}? " if close else "")
                    + "profile has traits, consent, tags and segments",
                )
            case n.Path(root=root, keys=keys, key_cols=key_cols):
                return n.Path(col, root, (*keys, key), (*key_cols, key_col))
            case n.Get(base=inner, keys=keys, key_cols=key_cols):
                return n.Get(col, inner, (*keys, key), (*key_cols, key_col))
            case n.Const() | n.ListLit():
                return self.reject(
                    key_col,
                    "fields and methods of a literal cannot be used",
                    "use the helpers instead, e.g. lower('ABC') or len(xs)",
                )
        return n.Get(col, base, (key,), (key_col,))

    def binop(self, node: ast.BinOp, op: ast.operator, left: ast.expr, right: ast.expr, col: int) -> n.Node:
        op_col = self.pos.next_token(self.pos.end_of(left))
        arith = _ARITH_OPS.get(type(op))
        if arith is None:
            what, hint = _REJECTED_BINOPS.get(type(op), (f"the operator {type(op).__name__}", "remove it"))
            self.walk(left)
            self.walk(right)
            return self.reject(op_col, f"{what} is not allowed", hint)
        return n.Arith(col, arith, self.walk(left), self.walk(right), op_col)

    def compare(self, left: ast.expr, ops: list[ast.cmpop], comparators: list[ast.expr], col: int) -> n.Node:
        op_cols: list[int] = []
        names: list[n.CompareOp] = []
        previous: ast.expr = left
        valid = True
        for op, right in zip(ops, comparators, strict=True):
            op_col = self.pos.next_token(self.pos.end_of(previous))
            op_cols.append(op_col)
            name = _COMPARE_OPS.get(type(op))
            if name is None:
                word = "is not" if isinstance(op, ast.IsNot) else "is"
                self.reject(
                    op_col,
                    f"the operator `{word}` is not allowed",
                    "write == / != to compare values, or exists(x) to test for a missing field",
                )
                valid = False
            else:
                names.append(name)
            previous = right
        walked_left = self.walk(left)
        walked = self.walk_all(comparators)
        if not valid:
            return n.Invalid(col)
        return n.Compare(col, walked_left, tuple(names), walked, tuple(op_cols))

    def call(self, node: ast.Call, col: int) -> n.Node:
        func = node.func
        if not isinstance(func, ast.Name):
            self.walk(func.value if isinstance(func, ast.Attribute) else func)  # report its own problems too
            if isinstance(func, ast.Attribute):
                return self.reject(
                    self.pos.end_of(func) - len(func.attr),
                    f"methods cannot be called (.{func.attr}(…))",
                    "call a helper with the value as its argument, e.g. lower(x), starts_with(x, 'a')",
                )
            return self.reject(col, "only the helpers can be called", "see the list of helpers in the docs")
        name = func.id
        if name.startswith("__"):
            return self.reject(
                col, f"the dunder name {name!r} is not allowed", "only the helpers can be called"
            )
        args: list[n.Node] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.append(self.reject_construct(arg, self.pos.of(arg)))
            else:
                args.append(self.walk(arg))
        kwargs: list[tuple[str, n.Node]] = []
        for keyword in node.keywords:
            if keyword.arg is None:
                self.reject(
                    self.pos.of(keyword),
                    "keyword unpacking (**kwargs) is not allowed",
                    "pass keyword arguments one by one, e.g. within='30d'",
                )
                continue
            kwargs.append((keyword.arg, self.walk(keyword.value)))
        return n.Call(col, name, tuple(args), tuple(kwargs))
