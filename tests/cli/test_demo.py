"""`rumbo demo` end to end on a small population: summary, archive, and the analytics reading it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import open_engine
from rumbo.cli.main import main
from rumbo.demo.population import Population


def test_demo_runs_the_journeys_and_archives_every_record(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--customers", "300", "--days", "45", "--home", str(home)])
    assert result.exit_code == 0, result.output
    out = result.output
    for heading in (
        "Journeys",
        "Per node",
        "A/B test in cart-recovery",
        "Messages:",
        "Sends held back",
        "Where to look next",
    ):
        assert heading in out
    assert "0 refused" in out
    archive = Archive(home / "archive")
    for kind in ("event", "transition", "decision", "suppression", "delivery", "conversion"):
        assert archive.files(kind), kind
    engine = open_engine(archive)
    entered = engine.query(
        "select journey, count(*) as n from transition where cause = 'entered' "
        "group by journey order by journey"
    ).to_pylist()
    assert {row["journey"] for row in entered} >= {"cart-recovery", "browse-abandonment", "survey-follow-up"}
    sends = engine.query("select count(*) as n from delivery").to_pylist()[0]["n"]
    line = next(line for line in out.splitlines() if line.startswith("Messages:"))
    assert line.startswith(f"Messages: {sends:,} to 300 customers")


def test_demo_rejects_an_empty_population(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--customers", "0", "--home", str(tmp_path / "d")])
    assert result.exit_code == 2, result.output
    assert "--customers and --days must be at least 1" in result.output


def test_the_population_is_reproducible_and_multi_channel() -> None:
    first = list(Population(200, 90, 1_772_409_600.0, seed=3).messages())
    again = list(Population(200, 90, 1_772_409_600.0, seed=3).messages())
    other = list(Population(200, 90, 1_772_409_600.0, seed=4).messages())
    assert first == again and first != other
    channels = {m.get("channel") for m in first if m["type"] == "track"}
    assert {"web", "app", "store", "call_centre"} <= channels
    segments = {m["traits"]["segment"] for m in first if m["type"] == "identify"}
    assert segments == {"loyal", "regular", "bargain", "browser", "new"}
    # complementary purchases: some camera buyers come back for lenses or memory cards
    buyers = {
        m["userId"]
        for m in first
        if m.get("event") == "order_completed" and m["properties"]["category"] == "cameras"
    }
    follow_ups = {
        m["userId"]
        for m in first
        if m.get("event") == "order_completed" and m["properties"]["category"] in ("lenses", "memory_cards")
    }
    assert buyers & follow_ups
