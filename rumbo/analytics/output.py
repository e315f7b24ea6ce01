"""Showing an analysis: a rich table in the terminal, CSV or JSON for tools, PNG or HTML charts for people.

Every analysis returns a result object with ``to_dict()`` (JSON-ready; the management API serves it) and
``to_table()`` (a pyarrow Table, the main table). This module renders such a result in the three
``--format`` choices and saves a matplotlib figure as PNG or as a self-contained HTML page (the PNG
embedded as base64 next to the data table), so a chart can be mailed or attached without its files.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console
from rich.table import Table as RichTable

from rumbo.errors import AnalyticsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Format = Literal["table", "csv", "json"]
FORMATS: Final = ("table", "csv", "json")
CHART_SUFFIXES: Final = (".png", ".html")


class OutputError(AnalyticsError):
    """A result or chart could not be written in the form asked for."""


class Result(Protocol):
    """What every analysis returns."""

    def to_dict(self) -> dict[str, Any]:
        """The whole result as JSON-ready data."""
        ...

    def to_table(self) -> pa.Table:
        """The main table of the result."""
        ...


def render(
    result: Result,
    fmt: Format,
    *,
    title: str | None = None,
    sections: Sequence[tuple[str, pa.Table]] = (),
    notes: Sequence[str] = (),
    width: int = 160,
) -> str:
    """``result`` as text: rich tables (the main one, then ``sections``, then ``notes``), CSV or JSON.

    CSV carries only the main table (one table per file is what spreadsheets read); JSON carries
    ``to_dict()`` in full.
    """
    if fmt == "json":
        return orjson.dumps(json_ready(result.to_dict()), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        return table_to_csv(result.to_table())
    if fmt == "table":
        console = Console(width=width, record=True, file=io.StringIO(), force_terminal=False)
        console.print(rich_table(result.to_table(), title=title))
        for heading, table in sections:
            if table.num_rows:
                console.print(rich_table(table, title=heading))
        for note in notes:
            console.print(note, markup=False, soft_wrap=True)  # a note is one line, whatever its length
        return console.export_text()
    raise OutputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def rich_table(table: pa.Table, *, title: str | None = None) -> RichTable:
    """A rich table of an Arrow table: numbers right-aligned and readable, empty cells for nulls."""
    view = RichTable(title=title, title_justify="left", header_style="bold")
    numeric = [_is_numeric(field.type) for field in table.schema]
    for name, is_number in zip(table.column_names, numeric, strict=True):
        view.add_column(name, justify="right" if is_number else "left")
    for row in table.to_pylist():
        view.add_row(*(format_cell(value) for value in row.values()))
    return view


def table_to_csv(table: pa.Table) -> str:
    """The table as CSV text with a header row; times in ISO 8601."""
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue().decode()


def format_cell(value: Any) -> str:
    """One value as people read it: 12,345 · 0.1235 · 2026-11-23 09:30 · empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and abs(value) < 1e-4:  # p-values: keep the magnitude visible
            return f"{value:.2e}"
        if value != 0 and abs(value) < 1:
            return f"{value:.4f}"
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def json_ready(value: Any) -> Any:
    """``value`` with Arrow tables as lists of rows, times as ISO text and NaN as null."""
    if isinstance(value, pa.Table):
        return [json_ready(row) for row in value.to_pylist()]
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def save_chart(figure: Figure, path: str | Path, *, title: str, data: pa.Table | None = None) -> Path:
    """Save ``figure`` as PNG, or as one self-contained HTML page with the PNG inlined and the data table.

    The suffix of ``path`` chooses: ``.png`` or ``.html``.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise OutputError(f"{target}: charts are saved as .png or .html — change the file's suffix")
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=144, bbox_inches="tight")
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        target.write_bytes(png.getvalue())
    else:
        target.write_text(chart_html(png.getvalue(), title=title, data=data), encoding="utf-8")
    return target


def chart_html(png: bytes, *, title: str, data: pa.Table | None) -> str:
    """An HTML page holding the chart (base64 PNG) and, below it, the data it draws."""
    image = base64.b64encode(png).decode("ascii")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
        "table{border-collapse:collapse;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem}"
        "td.n{text-align:right}img{max-width:100%}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<img alt="{html.escape(title)}" src="data:image/png;base64,{image}">',
    ]
    if data is not None:
        parts.append(html_table(data))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def html_table(table: pa.Table) -> str:
    """An Arrow table as an HTML table, every cell escaped."""
    numeric = [_is_numeric(field.type) for field in table.schema]
    head = "".join(f"<th>{html.escape(name)}</th>" for name in table.column_names)
    rows = []
    for row in table.to_pylist():
        cells = "".join(
            f"<td{' class=n' if is_number else ''}>{html.escape(format_cell(value))}</td>"
            for value, is_number in zip(row.values(), numeric, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))
