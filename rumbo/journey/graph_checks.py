"""Graph checks on a journey's nodes: every target exists, every node is reachable, no cycle spins.

A cycle is legal only if it passes a node that waits (wait or wait_for): those end the engine's
instantaneous steps for an input. A cycle of instantaneous nodes would loop forever on one input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from rumbo.journey.document import PathKey
from rumbo.journey.model import (
    AnyNode,
    BranchNode,
    DecideNode,
    EmitNode,
    ExitNode,
    SendNode,
    SplitNode,
    UpdateNode,
    WaitForNode,
    WaitNode,
)


def edges_of(node: AnyNode) -> Iterator[tuple[str, str]]:
    """(label, target) for every edge leaving a node; labels name the outcome ('' for a plain next)."""
    if isinstance(node, WaitNode | SendNode | UpdateNode | EmitNode):
        yield "", node.next
    elif isinstance(node, WaitForNode):
        yield "happened", node.happened
        yield "timed_out", node.timed_out
    elif isinstance(node, BranchNode):
        for predicate, case_target in node.cases:
            yield predicate.source, case_target
        yield "else", node.otherwise
    elif isinstance(node, SplitNode):
        for variant, arm in node.next.items():
            if arm is not None:
                yield variant, arm
    elif isinstance(node, DecideNode):
        yield "chosen", node.chosen
        if node.none != node.chosen:
            yield "none", node.none
    elif isinstance(node, ExitNode):
        return


def raw_edges(body: object) -> list[str]:
    """Targets named by a node as written, valid or not, so the graph can be judged even when a node's
    body has other problems."""
    if not isinstance(body, dict):
        return []
    nxt = body.get("next")
    targets = [nxt] if isinstance(nxt, str) else list(nxt.values()) if isinstance(nxt, dict) else []
    branch = body.get("branch")
    if isinstance(branch, dict):
        targets.append(branch.get("else"))
        cases = branch.get("cases")
        targets += [c.get("next") for c in cases if isinstance(c, dict)] if isinstance(cases, list) else []
    return [t for t in targets if isinstance(t, str)]


def _waits(body: object) -> bool:
    # A node of unknown type counts as waiting: it is reported on its own, and must not invent a cycle.
    return not isinstance(body, dict) or not any(k in body for k in INSTANT_TYPES)


INSTANT_TYPES = ("branch", "split", "send", "decide", "update", "emit", "exit")


def check_graph(
    raw_nodes: Mapping[str, object], roots: Iterable[str]
) -> list[tuple[PathKey, str, str | None]]:
    """Problems with the graph, as (path, message, hint), judged on the nodes as written."""
    problems: list[tuple[PathKey, str, str | None]] = []
    graph = {k: [t for t in raw_edges(body) if t in raw_nodes] for k, body in raw_nodes.items()}
    seen: set[str] = set()
    stack = [r for r in roots if r in raw_nodes]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(graph[node_id])
    for node_id in raw_nodes:
        if node_id not in seen:
            problems.append(
                (
                    ("nodes", node_id),
                    f"node {node_id!r} can never be reached",
                    "point a `next`, an entry `node` or an `on` jump at it, or remove it",
                )
            )
    instant = {
        k: [t for t in targets if not _waits(raw_nodes[t])]
        for k, targets in graph.items()
        if not _waits(raw_nodes[k])
    }
    for cycle in _instant_cycles(instant):
        loop = " → ".join([*cycle, cycle[0]])
        problems.append(
            (
                ("nodes", cycle[0]),
                f"the cycle {loop} never waits and would loop forever",
                "put a wait or wait_for node inside the loop",
            )
        )
    return problems


def _instant_cycles(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """Cycles of a graph of instantaneous nodes (one reported per strongly connected component)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                cycles.append(_order_cycle(component[::-1], graph))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def _order_cycle(component: list[str], graph: Mapping[str, list[str]]) -> list[str]:
    """One concrete loop through the component, for a readable message."""
    members = set(component)
    path = [component[0]]
    while True:
        nxt = next((t for t in graph[path[-1]] if t in members), None)
        if nxt is None or nxt == path[0] or nxt in path:
            return path
        path.append(nxt)
