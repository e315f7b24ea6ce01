"""`rumbo analyze experiment` end to end on a small archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rumbo.cli.main import main
from tests.analytics.test_experiments_archive import EXAMPLES, build_archive


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("experiment-cli")
    build_archive(root, with_decisions=True)
    return root


def test_table_shows_arms_uplift_and_notes(archive_dir: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "experiment",
            "--archive",
            str(archive_dir),
            "--journey-file",
            str(EXAMPLES / "cart-recovery.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cart-recovery" in result.output and "holdout" in result.output
    assert "Uplift against the holdouts" in result.output and "programme" in result.output
    # welcome has no configured weights here, so the reader is told its SRM was not checked.
    assert "welcome/split: no split weights given" in result.output


def test_json_on_clickhouse_carries_the_comparisons(archive_dir: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "experiment",
            "--archive",
            str(archive_dir),
            "--engine",
            "clickhouse",
            "--journey",
            "cart-recovery",
            "--node",
            "split",
            "--weights",
            "A=45,B=45,holdout=10",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (split,) = data["splits"]
    assert {a["variant"]: a["runs"] for a in split["arms"]} == {"A": 400, "B": 400, "holdout": 100}
    assert split["srm"]["mismatch"] is False
    b = next(c for c in split["comparisons"] if c["variant"] == "B")
    assert b["lift"] == pytest.approx(0.1)


def test_csv_has_a_row_per_arm(archive_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["analyze", "experiment", "--archive", str(archive_dir), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith('"journey","node","variant","runs"')
    assert len(result.output.splitlines()) == 1 + 5


def test_chart_is_written_as_html(archive_dir: Path, tmp_path: Path) -> None:
    chart = tmp_path / "experiments.html"
    result = CliRunner().invoke(
        main, ["analyze", "experiment", "--archive", str(archive_dir), "--chart", str(chart)]
    )
    assert result.exit_code == 0, result.output
    page = chart.read_text()
    assert "data:image/png;base64," in page and "cart-recovery" in page


def test_weights_without_a_split_is_a_usage_error(archive_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["analyze", "experiment", "--archive", str(archive_dir), "--weights", "A=1,B=1"]
    )
    assert result.exit_code == 2, result.output
    assert "give --journey and --node" in result.output


def test_unknown_journey_is_a_clear_error(archive_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["analyze", "experiment", "--archive", str(archive_dir), "--journey", "nope"]
    )
    assert result.exit_code == 1, result.output
    assert "no run passed a split node" in result.output
