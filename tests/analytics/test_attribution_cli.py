"""`rumbo analyze attribution` end to end on the small archive of test_attribution_archive."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rumbo.cli.main import main
from tests.analytics.test_attribution_archive import build


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attribution-cli")
    build(root)
    return root


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, ["analyze", "attribution", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_default_is_markov_by_channel_as_a_table(archive_dir: Path) -> None:
    output = _run("--archive", str(archive_dir))
    assert "Attribution by channel (markov, order 1)" in output
    assert "removal_effect" in output
    assert "1 conversions (25.0%) had no touchpoint inside the window" in output


def test_json_carries_credit_and_totals(archive_dir: Path) -> None:
    data = json.loads(_run("--archive", str(archive_dir), "--model", "last", "--format", "json"))
    assert data["model"] == "last" and data["by"] == "channel"
    assert {row["channel"]: row["conversions"] for row in data["credit"]} == {
        "web": 1.0,
        "email": 1.0,
        "paid": 1.0,
        "sms": 0.0,
    }
    assert data["unattributed_conversions"] == 1.0


def test_csv_by_journey_on_clickhouse(archive_dir: Path) -> None:
    output = _run(
        "--archive", str(archive_dir), "--engine", "clickhouse", "--by", "journey", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(output)))
    assert {r["journey"]: float(r["conversions"]) for r in rows} == {"welcome": 1.0, "winback": 0.0}


def test_window_and_order_options(archive_dir: Path) -> None:
    data = json.loads(
        _run("--archive", str(archive_dir), "--model", "first", "--window", "60d", "--format", "json")
    )
    assert {row["channel"]: row["conversions"] for row in data["credit"]}["paid"] == 1.0
    data = json.loads(_run("--archive", str(archive_dir), "--order", "2", "--format", "json"))
    assert data["parameters"]["order"] == 2


def test_chart_png(archive_dir: Path, tmp_path: Path) -> None:
    chart = tmp_path / "attribution.png"
    _run("--archive", str(archive_dir), "--model", "shapley", "--chart", str(chart))
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_bad_window_is_a_clear_error(archive_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["analyze", "attribution", "--archive", str(archive_dir), "--window", "soon"]
    )
    assert result.exit_code == 1, result.output
    assert "is not a duration" in result.output


def test_order_four_is_refused(archive_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["analyze", "attribution", "--archive", str(archive_dir), "--order", "4"]
    )
    assert result.exit_code == 2, result.output
