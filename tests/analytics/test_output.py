"""Rendering results as table, CSV and JSON, and saving charts as PNG or self-contained HTML."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from matplotlib.figure import Figure

from rumbo.analytics.output import OutputError, format_cell, render, save_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Fixed:
    table: pa.Table

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.table, "when": datetime(2026, 11, 23, tzinfo=UTC), "ratio": float("nan")}

    def to_table(self) -> pa.Table:
        return self.table


RESULT = Fixed(pa.table({"node": ["email", "sms <b>"], "entered": [12345, 7], "rate": [0.25, None]}))


def test_json_is_the_whole_dict_with_tables_as_rows_and_times_as_iso() -> None:
    data = json.loads(render(RESULT, "json"))
    assert data == {
        "rows": [
            {"node": "email", "entered": 12345, "rate": 0.25},
            {"node": "sms <b>", "entered": 7, "rate": None},
        ],
        "when": "2026-11-23T00:00:00+00:00",
        "ratio": None,
    }


def test_csv_is_the_main_table() -> None:
    assert render(RESULT, "csv").splitlines() == [
        '"node","entered","rate"',
        '"email",12345,0.25',
        '"sms <b>",7,',
    ]


def test_table_shows_readable_numbers_sections_and_notes() -> None:
    flags = pa.table({"node": ["sms <b>"], "p_value": [0.001]})
    text = render(RESULT, "table", title="Node health", sections=[("Flagged", flags)], notes=["2 nodes"])
    assert "Node health" in text and "Flagged" in text and text.rstrip().endswith("2 nodes")
    assert re.search(r"email\s+│\s+12,345\s+│\s+0\.2500", text), text


def test_cells_are_formatted_for_people() -> None:
    assert [format_cell(v) for v in (None, 3, 1234567, 0.123456, 12.5, 2_500_000.0, float("nan"))] == [
        "",
        "3",
        "1,234,567",
        "0.1235",
        "12.50",
        "2,500,000",
        "",
    ]


def figure() -> Figure:
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().bar(["a", "b"], [1, 2])
    return fig


def test_png_chart(tmp_path: Path) -> None:
    path = save_chart(figure(), tmp_path / "out" / "chart.png", title="t")
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_html_chart_embeds_the_png_and_the_escaped_data(tmp_path: Path) -> None:
    path = save_chart(figure(), tmp_path / "chart.html", title="Funnel <1>", data=RESULT.to_table())
    page = path.read_text()
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match and base64.b64decode(match.group(1)).startswith(PNG_MAGIC)
    assert "<title>Funnel &lt;1&gt;</title>" in page
    assert "<td>sms &lt;b&gt;</td>" in page and "<td class=n>12,345</td>" in page
    assert "http" not in page  # self-contained: nothing to fetch


def test_unknown_chart_type_says_which_suffixes_work(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"saved as \.png or \.html"):
        save_chart(figure(), tmp_path / "chart.svg", title="t")
