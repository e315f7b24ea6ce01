"""`rumbo analyze attribution` in code: pick a model, read the paths, credit each key, return a result.

The result's table has one row per key (channel, campaign, journey or node): the conversions and value it
is credited with, its share, how many touchpoints it had, and the model's own figures (the Markov removal
effect, the Shapley value). Conversions no touchpoint led to inside the window are reported apart, as
unattributed, rather than spread over the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa

from rumbo.analytics.attribution.credit import Credit
from rumbo.analytics.attribution.heuristic import DEFAULT_HALF_LIFE, HEURISTIC_MODELS, heuristic_attribution
from rumbo.analytics.attribution.markov import markov_attribution
from rumbo.analytics.attribution.paths import PathSet
from rumbo.analytics.attribution.shapley import shapley_attribution
from rumbo.analytics.attribution.touchpoints import BY, paths_from_archive
from rumbo.analytics.engines import QueryEngine
from rumbo.errors import AnalyticsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MODELS: Final = (*HEURISTIC_MODELS, "markov", "shapley")


class NoPaths(AnalyticsError):
    """The archive holds nothing to attribute: no touchpoints and no conversions."""


@dataclass(frozen=True)
class AttributionResult:
    """Credit per key under one model, with the totals it was shared from."""

    model: str
    by: str
    keys: tuple[str, ...]
    credit: Credit
    touches: np.ndarray[Any, np.dtype[np.float64]]
    paths: int  # customers' paths (converting or not) the model read
    conversions: float  # conversions on those paths
    value: float
    unattributed_conversions: float
    unattributed_value: float
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_table(self) -> pa.Table:
        """One row per key, most credited first."""
        order = np.argsort(-self.credit.conversions, kind="stable")
        total = self.credit.conversions.sum()
        columns: dict[str, Any] = {
            self.by: [self.keys[i] for i in order],
            "conversions": self.credit.conversions[order],
            "share": self.credit.conversions[order] / total if total else np.zeros(order.size),
            "value": self.credit.values[order],
            "touches": self.touches[order].astype(np.int64),
        }
        for name, values in self.credit.detail.items():
            if name == "chain_conversion_probability":
                continue
            columns[name] = values[order]
        return pa.table(columns)

    def to_dict(self) -> dict[str, Any]:
        detail = self.credit.detail.get("chain_conversion_probability")
        return {
            "model": self.model,
            "by": self.by,
            "parameters": self.parameters,
            "paths": self.paths,
            "conversions": self.conversions,
            "value": self.value,
            "unattributed_conversions": self.unattributed_conversions,
            "unattributed_value": self.unattributed_value,
            "chain_conversion_probability": None if detail is None or not detail.size else float(detail[0]),
            "credit": self.to_table().to_pylist(),
        }

    def notes(self) -> list[str]:
        """What a reader should know beside the table."""
        total = self.conversions + self.unattributed_conversions
        head = f"{self.model} attribution by {self.by}"
        out = [f"{head}: {self.conversions:,.0f} conversions on {self.paths:,} paths"]
        if self.unattributed_conversions:
            share = self.unattributed_conversions / total if total else 0.0
            out.append(
                f"{self.unattributed_conversions:,.0f} conversions ({share:.1%}) had no touchpoint inside "
                "the window and are not attributed to any key"
            )
        if self.model == "shapley" and (self.credit.conversions < 0).any():
            out.append(
                "negative credit: those keys' presence goes with a lower conversion rate in these paths"
            )
        return out


def attribute_paths(
    paths: PathSet,
    model: str,
    *,
    by: str = "channel",
    order: int = 1,
    half_life: float = DEFAULT_HALF_LIFE,
    keep_repeats: bool = False,
) -> AttributionResult:
    """Credit the keys of `paths` under `model` (one of `MODELS`)."""
    if model not in MODELS:
        raise AnalyticsError(f"unknown attribution model {model!r}; choose one of {', '.join(MODELS)}")
    if not keep_repeats:
        paths = paths.without_repeats()
    credit: Credit
    if model == "markov":
        credit = markov_attribution(paths, order)
    elif model == "shapley":
        credit = shapley_attribution(paths)
    else:
        credit = heuristic_attribution(paths, model, half_life)
    weight = paths.conversions + paths.nulls
    touches = np.bincount(paths.codes, weight[paths.path_of_touch], minlength=len(paths.keys))
    return AttributionResult(
        model=model,
        by=by,
        keys=paths.keys,
        credit=credit,
        touches=touches.astype(np.float64),
        paths=int(weight.sum()),
        conversions=float(paths.conversions.sum()),
        value=float(paths.values.sum()),
        unattributed_conversions=paths.unattributed_conversions,
        unattributed_value=paths.unattributed_value,
        parameters={"order": order if model == "markov" else None, "keep_repeats": keep_repeats}
        | ({"half_life_seconds": half_life} if model == "time_decay" else {}),
    )


def attribute(
    engine: QueryEngine,
    model: str = "markov",
    *,
    by: str = "channel",
    window: float = 30 * 86400.0,
    order: int = 1,
    half_life: float = DEFAULT_HALF_LIFE,
    conversion_event: str | None = None,
    goal: str | None = None,
    keep_repeats: bool = False,
) -> AttributionResult:
    """Read paths from the archive through `engine` and credit each key under `model`."""
    if by not in BY:
        raise AnalyticsError(f"cannot attribute by {by!r}; choose one of {', '.join(BY)}")
    if model not in MODELS:
        raise AnalyticsError(f"unknown attribution model {model!r}; choose one of {', '.join(MODELS)}")
    paths = paths_from_archive(engine, by=by, window=window, conversion_event=conversion_event, goal=goal)
    if paths.size == 0 and paths.unattributed_conversions == 0:
        source = f"{conversion_event!r} events" if conversion_event else "conversion records"
        raise NoPaths(
            f"the archive has no touchpoints by {by} and no {source} — check --archive, or import events "
            "with a channel (and conversions, or name a conversion event with --conversion-event)"
        )
    result = attribute_paths(paths, model, by=by, order=order, half_life=half_life, keep_repeats=keep_repeats)
    result.parameters.update(
        {"engine": engine.name, "window_seconds": window, "conversion_event": conversion_event, "goal": goal}
    )
    return result


def attribution_figure(result: AttributionResult) -> Figure:
    """Attributed conversions per key as horizontal bars, most credited on top."""
    from matplotlib.figure import Figure

    table = result.to_table()
    names = [str(n) for n in table.column(result.by).to_pylist()][::-1]
    values = table.column("conversions").to_pylist()[::-1]
    figure = Figure(figsize=(8, max(2.5, 0.4 * len(names) + 1.2)))
    axes = figure.subplots()
    axes.barh(range(len(names)), values, color=["#d62728" if v < 0 else "#1f77b4" for v in values])
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("attributed conversions")
    title = f"Attribution by {result.by} — {result.model}"
    if result.model == "markov":
        title += f" (order {result.parameters.get('order')})"
    axes.set_title(title)
    return figure
