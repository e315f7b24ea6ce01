"""`rumbo analyze paths` through click."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.cli.main import main

T0 = 1_795_000_000.0


def build(root: Path) -> Path:
    archive = Archive(root)
    sequences = {"c1": ["view", "cart", "order"], "c2": ["view", "cart", "order"], "c3": ["view", "order"]}
    archive.append(
        "event",
        [
            {"customer": c, "event": e, "timestamp": T0 + i * 60, "messageId": f"{c}{i}"}
            for c, names in sequences.items()
            for i, e in enumerate(names)
        ],
    )
    archive.append(
        "transition",
        [
            {"journey": "j", "version": 1, "run": "r1", "to_node": "start", "cause": "entered", "at": T0},
            {"journey": "j", "version": 1, "run": "r1", "from_node": "start", "cause": "goal", "at": T0 + 1},
        ],
    )
    return root


def test_paths_json(tmp_path: Path) -> None:
    archive = build(tmp_path / "a")
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "paths",
            "--from",
            "view",
            "--to",
            "order",
            "--archive",
            str(archive),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(p["path"], p["customers"]) for p in data["paths"]] == [
        ("view → cart → order", 2),
        ("view → order", 1),
    ]


def test_sankey_of_a_journey_with_a_chart(tmp_path: Path) -> None:
    archive = build(tmp_path / "a")
    chart = tmp_path / "flows.html"
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "paths",
            "--sankey",
            "--journey",
            "j",
            "--archive",
            str(archive),
            "--format",
            "csv",
            "--chart",
            str(chart),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        '"source","target","count"',
        '"(entry)","start",1',
        '"start","(exit)",1',
    ]
    assert "data:image/png;base64," in chart.read_text()


def test_paths_need_both_ends(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", "paths", "--from", "view", "--archive", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "--to EVENT" in result.output
