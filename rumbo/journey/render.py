"""Drawing a journey: Mermaid (renders in GitHub and most docs) or Graphviz DOT."""

from __future__ import annotations

from collections.abc import Mapping

from rumbo.durations import format_duration
from rumbo.journey.graph_checks import edges_of
from rumbo.journey.model import (
    AnyNode,
    BranchNode,
    DecideNode,
    EmitNode,
    ExitNode,
    Journey,
    SendNode,
    SplitNode,
    UpdateNode,
    WaitForNode,
    WaitNode,
)

_TYPE_NAMES = {
    WaitNode: "wait",
    WaitForNode: "wait_for",
    BranchNode: "branch",
    SplitNode: "split",
    SendNode: "send",
    DecideNode: "decide",
    UpdateNode: "update",
    EmitNode: "emit",
    ExitNode: "exit",
}


def node_type(node: AnyNode) -> str:
    """The node's type as written in a journey document."""
    return _TYPE_NAMES[type(node)]


def describe(node: AnyNode) -> str:
    """A one-line label for a node."""
    if isinstance(node, WaitNode):
        if node.seconds is not None:
            return f"wait {format_duration(node.seconds)}"
        if node.window is not None:
            w = node.window
            return f"wait for {w.start // 60:02d}:{w.start % 60:02d}–{w.end // 60:02d}:{w.end % 60:02d}"
        sign = "" if node.offset >= 0 else "-"
        return f"wait until {node.until_trait} {sign}{format_duration(abs(node.offset))}"
    if isinstance(node, WaitForNode):
        return f"wait for {node.event} ≤ {format_duration(node.timeout)}"
    if isinstance(node, BranchNode):
        return "branch"
    if isinstance(node, SplitNode):
        return (
            "split "
            + "/".join(name for name, _ in node.variants)
            + (f" +{node.holdout * 100:g}% holdout" if node.holdout else "")
        )
    if isinstance(node, SendNode):
        return f"send {node.channel}: {node.template}"
    if isinstance(node, DecideNode):
        return f"decide ({node.policy})"
    if isinstance(node, UpdateNode):
        return "update profile"
    if isinstance(node, EmitNode):
        return f"emit {node.event}" if node.event else f"start {node.start_journey}"
    if isinstance(node, ExitNode):
        return "exit"
    raise TypeError(node)


def _shape(node: AnyNode) -> str:
    """Choices are drawn as diamonds, ends as ovals, everything else as boxes."""
    if isinstance(node, BranchNode | SplitNode | DecideNode):
        return "choice"
    return "end" if isinstance(node, ExitNode) else "step"


_MERMAID_SHAPES = {"choice": ('{{"', '"}}'), "end": ('(["', '"])'), "step": ('["', '"]')}
_DOT_SHAPES = {"choice": "diamond", "end": "oval", "step": "box"}


def _quote(text: str) -> str:
    return text.replace('"', "'")


def to_mermaid(journey: Journey, counts: Mapping[str, int] | None = None) -> str:
    lines = ["flowchart TD"]
    entry_labels = sorted({e.event or e.segment or e.kind for e in journey.entries})
    lines.append(f'    __entry(["{_quote(", ".join(entry_labels))}"])')
    for node_id, node in journey.nodes.items():
        label = f"{node_id}<br/>{describe(node)}"
        if counts and node_id in counts:
            label += f"<br/>{counts[node_id]:,}"
        shape = _MERMAID_SHAPES[_shape(node)]
        lines.append(f"    {node_id}{shape[0]}{_quote(label)}{shape[1]}")
    for first in sorted({e.node for e in journey.entries}):
        lines.append(f"    __entry --> {first}")
    for node_id, node in journey.nodes.items():
        for label, target in edges_of(node):
            arrow = f'-->|"{_quote(label)}"|' if label else "-->"
            lines.append(f"    {node_id} {arrow} {target}")
    for rule in journey.jumps:
        lines.append(f'    __on_{rule.event}(["on {rule.event}"]) -.-> {rule.goto}')
    return "\n".join(lines) + "\n"


def to_dot(journey: Journey, counts: Mapping[str, int] | None = None) -> str:
    lines = [f'digraph "{_quote(journey.id)}" {{', "    rankdir=TB;", '    node [fontname="Helvetica"];']
    lines.append('    "__entry" [shape=oval, label="entry"];')
    for node_id, node in journey.nodes.items():
        label = f"{node_id}\\n{describe(node)}"
        if counts and node_id in counts:
            label += f"\\n{counts[node_id]:,}"
        shape = _DOT_SHAPES[_shape(node)]
        lines.append(f'    "{node_id}" [shape={shape}, label="{_quote(label)}"];')
    for first in sorted({e.node for e in journey.entries}):
        lines.append(f'    "__entry" -> "{first}";')
    for node_id, node in journey.nodes.items():
        for label, target in edges_of(node):
            attr = f' [label="{_quote(label)}"]' if label else ""
            lines.append(f'    "{node_id}" -> "{target}"{attr};')
    for rule in journey.jumps:
        lines.append(f'    "on {rule.event}" [shape=plaintext];')
        lines.append(f'    "on {rule.event}" -> "{rule.goto}" [style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"
