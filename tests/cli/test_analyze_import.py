"""`rumbo analyze import` through click: an orders file becomes events that a funnel can read."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rumbo.cli.main import main


def test_import_an_orders_csv_then_count_it(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text(
        "client,day,event,total\nA7,2026-11-02,view,\nA7,2026-11-03,order,19.5\nB1,2026-11-02,view,\n"
    )
    archive = tmp_path / "archive"
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "import",
            "event",
            str(source),
            "--map",
            "client=customer",
            "--map",
            "day=timestamp",
            "--archive",
            str(archive),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["rows"], report["into_properties"], len(report["files"])) == (3, ["total"], 2)
    funnel = CliRunner().invoke(
        main, ["analyze", "funnel", "view", "order", "--archive", str(archive), "--format", "csv"]
    )
    assert funnel.exit_code == 0, funnel.output
    assert funnel.output.splitlines()[1:] == ['"(all)",1,"view",2,1,1', '"(all)",2,"order",1,0.5,0.5']


def test_a_malformed_mapping_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "e.csv"
    source.write_text("customer,timestamp\nc,2026-11-02\n")
    result = CliRunner().invoke(
        main,
        ["analyze", "import", "event", str(source), "--map", "customer", "--archive", str(tmp_path / "a")],
    )
    assert result.exit_code == 2, result.output
    assert "SOURCE=FIELD" in result.output
