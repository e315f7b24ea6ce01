"""Loading a journey file (YAML or JSON) into plain data while remembering where each value stands.

PyYAML's composer keeps a mark (line, column) on every node, and a JSON file is valid YAML, so both formats
go through the same path and every problem can name its file, line and JSON path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rumbo.errors import JourneyInvalid, Problem

PathKey = tuple[str | int, ...]


@dataclass(slots=True)
class Document:
    """A parsed document, the file it came from, and the (line, column) of every value by its path."""

    data: Any
    file: str | None = None
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def problem(self, path: PathKey, message: str, hint: str | None = None) -> Problem:
        """A Problem pinned to the nearest marked ancestor of `path`."""
        probe = path
        while probe not in self.marks and probe:
            probe = probe[:-1]
        line, column = self.marks.get(probe, (None, None))
        return Problem(message, json_path(path), self.file, line, column, hint)


def json_path(path: PathKey) -> str:
    """`$.nodes.email.send` style path; integer parts as `[0]`."""
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def load_document(path: str | Path) -> Document:
    """Read and parse a journey file; a file that is not valid YAML/JSON raises JourneyInvalid."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise JourneyInvalid([Problem(f"cannot read the file: {exc.strerror}", file=file)]) from exc
    except UnicodeDecodeError as exc:
        problem = Problem(
            f"the file is not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x})",
            "$",
            file,
            hint="save the journey as UTF-8 YAML or JSON",
        )
        raise JourneyInvalid([problem]) from exc
    return parse_document(text, file)


def parse_document(text: str, file: str | None = None) -> Document:
    """Parse YAML or JSON text, keeping marks."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise JourneyInvalid(
            [
                Problem(
                    f"not valid YAML or JSON: {exc.problem}",
                    "$",
                    file,
                    line,
                    column,
                    "check indentation, quotes and brackets around this point",
                )
            ]
        ) from exc
    except yaml.reader.ReaderError as exc:  # control characters are refused before any mark exists
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        problem = Problem(
            f"character U+{exc.character:04X} is not allowed in YAML or JSON",
            "$",
            file,
            line,
            column,
            "remove the control character (or write it escaped inside a quoted string)",
        )
        raise JourneyInvalid([problem]) from exc
    doc = Document(None, file)
    if root is None:
        raise JourneyInvalid([Problem("the file is empty", "$", file, 1, 1, "start with `journey: <id>`")])
    doc.data = _construct(root, (), doc.marks)
    return doc


_DROPPED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"}


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read a node named `yes`, `no`, `on` or `off`
    as a boolean, which breaks `next: {happened: yes}` in a way no reader would guess. Dates stay strings,
    as they would in JSON."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"))
    )
_SCALARS = _Loader("")  # a loader instance only to resolve scalar values by YAML rules


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _construct(node: yaml.Node, path: PathKey, marks: dict[PathKey, tuple[int, int]]) -> Any:
    marks.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            # Keys stay the text that was written: YAML 1.1 would turn `on:` into True.
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            marks[(*path, key)] = _mark(key_node)
            out[key] = _construct(value_node, (*path, key), marks)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), marks) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node, deep=True)
