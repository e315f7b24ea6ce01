"""`rumbo analyze nodes` end to end through click, on a small archive."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.cli.main import main

T0 = 1_795_000_000.0


def build(root: Path) -> Path:
    """400 runs split between email (A, half convert) and sms (B, one in ten converts)."""
    archive = Archive(root)
    rows, conversions = [], []
    for i in range(400):
        arm, node = ("A", "email") if i % 2 else ("B", "sms")
        base = {"journey": "cart", "version": 1, "run": f"r{i}", "customer": f"c{i}"}
        rows += [
            {**base, "from_node": None, "to_node": "split", "cause": "entered", "at": T0},
            {**base, "from_node": "split", "to_node": node, "cause": "next", "at": T0 + 60, "variant": arm},
        ]
        if (arm == "A" and i % 4 == 1) or (arm == "B" and i % 20 == 0):
            conversions.append({**base, "goal": "order", "at": T0 + 3600})
    archive.append("transition", rows)
    archive.append("conversion", conversions)
    return root


def test_table_lists_nodes_and_the_flagged_arm(tmp_path: Path) -> None:
    archive = build(tmp_path / "archive")
    result = CliRunner().invoke(main, ["analyze", "nodes", "--archive", str(archive), "--journey", "cart"])
    assert result.exit_code == 0, result.output
    assert "Node health" in result.output and "Flagged: fix or retire" in result.output
    assert "2 flagged of" in result.output  # sms against its sibling and against the journey


def test_json_on_clickhouse_and_a_chart(tmp_path: Path) -> None:
    archive = build(tmp_path / "archive")
    chart = tmp_path / "graph.html"
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "nodes",
            "--archive",
            str(archive),
            "--engine",
            "clickhouse",
            "--format",
            "json",
            "--chart",
            str(chart),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sms = [n for n in data["nodes"] if n["node"] == "sms"]
    assert sms == [{**sms[0], "entered": 200, "converted": 20, "flagged": "fix or retire"}]
    assert chart.read_text().startswith("<!doctype html>")


def test_a_bad_chart_name_is_reported(tmp_path: Path) -> None:
    archive = build(tmp_path / "archive")
    result = CliRunner().invoke(
        main, ["analyze", "nodes", "--archive", str(archive), "--chart", str(tmp_path / "g.svg")]
    )
    assert result.exit_code == 1, result.output
    assert ".png or .html" in result.output


def test_an_empty_archive_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", "nodes", "--archive", str(tmp_path / "nothing")])
    assert result.exit_code == 0, result.output
    assert "nothing found: no matching journey transitions" in result.output
    assert "rumbo analyze import" in result.output
