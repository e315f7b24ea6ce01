"""`rumbo analyze clv`: customer lifetime value from the archive's purchases or from a file of orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from rumbo.analytics.clv.analysis import MODELS, ClvResult, ModelName, analyze_clv
from rumbo.analytics.clv.chart import decile_table, distribution_figure
from rumbo.analytics.clv.summary import (
    DAY,
    PURCHASE_EVENTS,
    VALUE_PROPERTIES,
    PurchaseSummary,
    summarise_archive,
    summarise_orders_file,
)
from rumbo.analytics.clv.traits import write_traits
from rumbo.analytics.output import Format, render, save_chart
from rumbo.cli.analyze_options import common_options, engine_for
from rumbo.durations import parse_duration
from rumbo.errors import RumboError


@dataclass(frozen=True)
class _Shown:
    """The result as the terminal table shows it: the top customers only (JSON and CSV carry all)."""

    result: ClvResult
    top: int

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict()

    def to_table(self) -> pa.Table:
        return self.result.to_table().slice(0, self.top)


def _parse_map(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in values:
        source, sep, target = item.partition("=")
        if not sep or not source or target not in ("customer", "timestamp", "value"):
            raise click.BadParameter(
                f"{item!r}: write SOURCE=TARGET with TARGET one of customer, timestamp, value "
                "(e.g. --map order_date=timestamp)",
                ctx=ctx,
                param=param,
            )
        mapping[source] = target
    return mapping


@click.command("clv")
@common_options("Save the CLV distribution as FILE.png or FILE.html.")
@click.option(
    "--orders",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read orders (customer, timestamp, value) from a CSV, Parquet or JSON-lines file, not the archive.",
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    callback=_parse_map,
    metavar="SOURCE=TARGET",
    help="Rename an orders-file column to customer, timestamp or value; repeatable.",
)
@click.option("--model", type=click.Choice(MODELS), default="bgnbd", show_default=True)
@click.option("--horizon", default="90d", show_default=True, help="How far ahead to value customers.")
@click.option("--unit", default="1w", show_default=True, help="Time unit the models count in.")
@click.option(
    "--discount-rate", type=float, default=0.0, show_default=True, help="Annual discount rate, e.g. 0.1."
)
@click.option(
    "--penalizer",
    type=click.FloatRange(min=0),
    default=None,
    help="Fit with this prior on the log-parameters (0: maximum likelihood) [default: maximum likelihood, "
    "then 0.05 if that finds no maximum, with a note].",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Observation end (YYYY-MM-DD); later purchases are ignored [default: the last purchase day].",
)
@click.option(
    "--event",
    "events",
    multiple=True,
    help=f"Purchase event name; repeatable [default: {', '.join(PURCHASE_EVENTS)}].",
)
@click.option(
    "--value-property",
    "value_properties",
    multiple=True,
    help=f"Property holding a purchase's value, first present wins [default: {', '.join(VALUE_PROPERTIES)}].",
)
@click.option("--workspace", default=None, help="Only this workspace's purchases.")
@click.option(
    "--top", type=click.IntRange(min=1), default=20, show_default=True, help="Customers shown in the table."
)
@click.option(
    "--write-traits",
    "traits_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write each customer's CLV traits as Segment identify events (JSON lines) to FILE.",
)
def clv(
    archive_dir: Path | None,
    engine: str,
    orders: Path | None,
    mapping: dict[str, str],
    model: ModelName,
    horizon: str,
    unit: str,
    discount_rate: float,
    penalizer: float | None,
    as_of: Any,
    events: tuple[str, ...],
    value_properties: tuple[str, ...],
    workspace: str | None,
    top: int,
    fmt: Format,
    chart: Path | None,
    traits_file: Path | None,
) -> None:
    """Customer lifetime value: expected purchases, probability alive, expected spend and value.

    Fits BG/NBD (or Pareto/NBD) to purchase frequency and Gamma-Gamma to spend, then scores every customer
    over the horizon. Purchases come from the archive's purchase events, or from --orders FILE.
    """
    try:
        observation_end: date | None = as_of.date() if as_of is not None else None
        summary = _summary(
            archive_dir,
            engine,
            orders,
            mapping,
            unit,
            observation_end,
            events or PURCHASE_EVENTS,
            value_properties or VALUE_PROPERTIES,
            workspace,
        )
        result = analyze_clv(
            summary,
            model=model,
            horizon_days=parse_duration(horizon) / DAY,
            annual_discount_rate=discount_rate,
            penalizer=penalizer,
        )
        if fmt == "table":
            click.echo(render(_Shown(result, top), fmt, **_table_extras(result, top)), nl=False)
        else:
            click.echo(render(result, fmt), nl=False)
        if chart is not None:
            saved = save_chart(
                distribution_figure(result), chart, title="Customer lifetime value", data=decile_table(result)
            )
            click.echo(f"chart written to {saved}", err=True)
        if traits_file is not None:
            count = write_traits(result, traits_file)
            click.echo(f"{count} identify events with CLV traits written to {traits_file}", err=True)
    except RumboError as exc:
        raise click.ClickException(str(exc)) from exc


def _summary(
    archive_dir: Path | None,
    engine: str,
    orders: Path | None,
    mapping: dict[str, str],
    unit: str,
    observation_end: date | None,
    events: tuple[str, ...],
    value_properties: tuple[str, ...],
    workspace: str | None,
) -> PurchaseSummary:
    if orders is not None:
        return summarise_orders_file(orders, mapping=mapping, unit=unit, observation_end=observation_end)
    return summarise_archive(
        engine_for(archive_dir, engine),
        unit=unit,
        observation_end=observation_end,
        purchase_events=events,
        value_properties=value_properties,
        workspace=workspace,
    )


def _table_extras(result: ClvResult, top: int) -> dict[str, Any]:
    totals = result.totals()
    value = totals["expected_value"]
    notes = [
        f"{totals['customers']:,} customers as of {result.summary.observation_end}; times in units of "
        f"{result.summary.unit}; horizon {result.horizon}; "
        f"annual discount rate {result.annual_discount_rate:g}",
        f"expected over the horizon: {totals['expected_purchases']:,.1f} purchases"
        + ("" if value is None else f", value {value:,.2f}")
        + f"; mean probability alive {totals['mean_probability_alive']:.3f}",
        f"{result.model.name} log-likelihood {result.log_likelihood:,.1f}"
        + (f" (penalizer {result.penalizer:g})" if result.penalizer else "")
        + (
            ""
            if result.spend_log_likelihood is None
            else f"; gammagamma log-likelihood {result.spend_log_likelihood:,.1f} "
            f"on {result.spend_customers:,} repeat customers"
        ),
        *result.notes,
    ]
    return {
        "title": f"Top {min(top, totals['customers'])} customers by "
        + ("expected value" if value is not None else "expected purchases"),
        "sections": [("Parameters", result.parameters_table())],
        "notes": notes,
    }
