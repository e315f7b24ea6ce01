"""`rumbo analyze lifecycle` through click."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.cli.main import main


def build(root: Path) -> Path:
    archive = Archive(root)
    at = datetime(2026, 11, 4, 12, tzinfo=UTC)
    archive.append(
        "event",
        [
            {"customer": "buyer", "event": "purchase", "timestamp": at},
            {"customer": "browser", "event": "page_view", "timestamp": at},
        ],
    )
    return root


def test_lifecycle_json_with_a_custom_purchase_event(tmp_path: Path) -> None:
    archive = build(tmp_path / "a")
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "lifecycle",
            "--purchase-event",
            "purchase",
            "--active",
            "14d",
            "--lapsed",
            "60d",
            "--archive",
            str(archive),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rules"] == {
        "purchase_events": ["purchase"],
        "active_seconds": 14 * 86400.0,
        "lapsed_seconds": 60 * 86400.0,
    }
    stages = {r["stage"]: r["customers"] for r in data["rows"] if r["customers"]}
    assert stages == {"prospect": 1, "new": 1}


def test_cohorts_with_a_chart_and_bad_thresholds(tmp_path: Path) -> None:
    archive = build(tmp_path / "a")
    chart = tmp_path / "cohorts.png"
    result = CliRunner().invoke(
        main, ["analyze", "lifecycle", "--cohorts", "--archive", str(archive), "--chart", str(chart)]
    )
    assert result.exit_code == 0, result.output
    assert "Weekly cohort retention" in result.output and chart.read_bytes().startswith(b"\x89PNG")
    bad = CliRunner().invoke(main, ["analyze", "lifecycle", "--active", "90d", "--archive", str(archive)])
    assert bad.exit_code == 1, bad.output
    assert "shorter than the lapsed" in bad.output
