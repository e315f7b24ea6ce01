"""Which nodes convert significantly worse — flagged so that their owner can fix or retire them.

Two comparisons per node of a journey version, each only when both sides have at least ``min_runs``
visits (so a node that ten people passed through is never flagged on noise). Counts are visits (runs, in a
journey without loops) and conversions after them, as in ``rumbo.analytics.health``:

- **Against its siblings**: the nodes entered from the same parent (the arms of a split, the branches of a
  wait_for). Runs entering the node from that parent vs runs entering the other children of that parent,
  converted after entering: Fisher's exact test, one-sided (the node converts worse). Exact, so it holds
  for small counts where a z-test's normal approximation does not.
- **Against the journey**: runs entering the node vs the journey version's overall conversion rate (all
  runs that entered it): an exact binomial test, one-sided. Nodes every run passes through are skipped.

All tests of one journey version are one family: p-values are adjusted with Holm's step-down method,
which controls the chance of flagging any healthy node at ``alpha`` without assuming independence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from scipy import stats


@dataclass(frozen=True)
class NodeRates:
    """Visits into a node and how many were followed by a conversion, all variants together."""

    journey: str
    version: int
    node: str
    entered: int
    converted: int


@dataclass(frozen=True)
class Flag:
    """One comparison with its evidence; ``flagged`` when the Holm-adjusted p-value is below alpha."""

    journey: str
    version: int
    node: str
    compared_with: str
    entered: int
    converted: int
    rate: float
    other_entered: int
    other_converted: int
    other_rate: float
    test: str
    p_value: float
    p_holm: float
    flagged: bool

    def to_dict(self) -> dict[str, Any]:
        """The comparison as a JSON-ready row."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @staticmethod
    def schema() -> pa.Schema:
        """The Arrow schema of a table of comparisons."""
        text, count, real = pa.string(), pa.int64(), pa.float64()
        return pa.schema(
            [
                ("journey", text),
                ("version", count),
                ("node", text),
                ("compared_with", text),
                ("entered", count),
                ("converted", count),
                ("rate", real),
                ("other_entered", count),
                ("other_converted", count),
                ("other_rate", real),
                ("test", text),
                ("p_value", real),
                ("p_holm", real),
                ("flagged", pa.bool_()),
            ]
        )


ENTRY = "(entry)"
"""How the parent of an entry node is named in edges and comparisons."""

SIBLING_TEST = "Fisher exact, one-sided"
JOURNEY_TEST = "binomial exact, one-sided"


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (monotone, capped at 1)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    count = len(p_values)
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (count - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def flag_nodes(
    nodes: list[NodeRates],
    edges: list[tuple[str, int, str, str, int, int]],
    *,
    alpha: float = 0.05,
    min_runs: int = 100,
) -> list[Flag]:
    """Every sibling and journey comparison with enough runs, Holm-adjusted per journey version.

    ``edges`` are (journey, version, parent, node, runs, converted) with the entry parent named as such.
    """
    raw: dict[tuple[str, int], list[tuple[str, str, int, int, int, int, str, float]]] = defaultdict(list)
    children: dict[tuple[str, int, str], list[tuple[str, int, int]]] = defaultdict(list)
    journey_totals: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for journey, version, parent, node, runs, converted in edges:
        children[(journey, version, parent)].append((node, runs, converted))
        if parent == ENTRY:
            journey_totals[(journey, version)][0] += runs
            journey_totals[(journey, version)][1] += converted

    for (journey, version, parent), kids in sorted(children.items()):
        if len(kids) < 2:
            continue
        for node, runs, converted in kids:
            other_runs = sum(r for n, r, _ in kids if n != node)
            other_converted = sum(c for n, _, c in kids if n != node)
            if runs < min_runs or other_runs < min_runs:
                continue
            table = [[converted, runs - converted], [other_converted, other_runs - other_converted]]
            p = float(stats.fisher_exact(table, alternative="less").pvalue)
            raw[(journey, version)].append(
                (
                    node,
                    f"siblings after {parent}",
                    runs,
                    converted,
                    other_runs,
                    other_converted,
                    SIBLING_TEST,
                    p,
                )
            )

    for rates in sorted(nodes, key=lambda r: (r.journey, r.version, r.node)):
        total_runs, total_converted = journey_totals.get((rates.journey, rates.version), [0, 0])
        if (
            rates.entered < min_runs
            or total_runs < min_runs
            or rates.entered >= total_runs
            or not total_converted
        ):
            continue
        overall = total_converted / total_runs
        p = float(stats.binomtest(rates.converted, rates.entered, overall, alternative="less").pvalue)
        raw[(rates.journey, rates.version)].append(
            (
                rates.node,
                "journey",
                rates.entered,
                rates.converted,
                total_runs,
                total_converted,
                JOURNEY_TEST,
                p,
            )
        )

    flags: list[Flag] = []
    for (journey, version), tests in sorted(raw.items()):
        adjusted = holm([t[7] for t in tests])
        for (node, against, runs, conv, o_runs, o_conv, test, p), p_holm in zip(tests, adjusted, strict=True):
            flags.append(
                Flag(
                    journey,
                    version,
                    node,
                    against,
                    runs,
                    conv,
                    conv / runs,
                    o_runs,
                    o_conv,
                    o_conv / o_runs,
                    test,
                    p,
                    p_holm,
                    p_holm < alpha,
                )
            )
    return flags
