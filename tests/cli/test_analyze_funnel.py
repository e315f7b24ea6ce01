"""`rumbo analyze funnel` through click."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.cli.main import main

T0 = 1_795_000_000.0
DAY = 86400.0


def build(root: Path) -> Path:
    archive = Archive(root)
    events = []
    for i, (steps, channel) in enumerate([(3, "web"), (2, "web"), (1, "email"), (3, "email")]):
        for s, name in enumerate(["view", "cart", "order"][:steps]):
            events.append({"customer": f"c{i}", "event": name, "timestamp": T0 + s * DAY, "channel": channel})
    archive.append("event", events)
    return root


def test_funnel_csv_by_channel(tmp_path: Path) -> None:
    archive = build(tmp_path / "a")
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "funnel",
            "view",
            "cart",
            "order",
            "--within",
            "7d",
            "--by",
            "channel",
            "--archive",
            str(archive),
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        '"segment","step","event","customers","from_previous","from_first"',
        '"email",1,"view",2,1,1',
        '"email",2,"cart",1,0.5,0.5',
        '"email",3,"order",1,1,0.5',
        '"web",1,"view",2,1,1',
        '"web",2,"cart",2,1,1',
        '"web",3,"order",1,0.5,0.5',
    ]


def test_funnel_window_too_short_and_chart(tmp_path: Path) -> None:
    archive = build(tmp_path / "a")
    chart = tmp_path / "funnel.png"
    result = CliRunner().invoke(
        main,
        [
            "analyze",
            "funnel",
            "view",
            "cart",
            "--within",
            "12h",
            "--archive",
            str(archive),
            "--chart",
            str(chart),
        ],
    )
    assert result.exit_code == 0, result.output
    assert chart.read_bytes().startswith(b"\x89PNG")
    bad = CliRunner().invoke(main, ["analyze", "funnel", "view", "--archive", str(archive)])
    assert bad.exit_code == 1, bad.output
    assert "at least two steps" in bad.output
