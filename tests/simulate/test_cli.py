"""`rumbo simulate fit`, `rumbo simulate` and `rumbo backtest` from the command line, on history generated
from the known model (as event files and as an archive)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.cli.main import main
from rumbo.simulate.simulator import Settings, generate_history
from tests.simulate.known import JOURNEY, SILENT, journey, journey_file, known_model


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the generated history as an event file and as an archive, and two drafts."""
    tmp = tmp_path_factory.mktemp("cli")
    history = generate_history(
        known_model(), [journey(tmp, JOURNEY, "reminder")], Settings(customers=400, days=42, seed=3)
    )
    (tmp / "events.jsonl").write_bytes(b"\n".join(orjson.dumps(m) for m in history.messages) + b"\n")
    archive = Archive(tmp / "archive")
    archive.append(
        "event",
        [
            {
                "workspace": "t",
                "customer": m["userId"],
                "userId": m["userId"],
                "messageId": m["messageId"],
                "type": m["type"],
                "event": m.get("event"),
                "timestamp": m["timestamp"],
                "received_at": m["timestamp"],
                "properties": m.get("properties"),
                "traits": m.get("traits"),
            }
            for m in history.messages
        ],
    )
    archive.append(
        "delivery",
        [
            {
                "workspace": "t",
                "customer": d.customer,
                "journey": d.journey,
                "version": 1,
                "run": "r",
                "node": "remind",
                "send": f"s{i}",
                "channel": d.channel,
                "template": d.template,
                "status": "queued",
                "at": d.at,
            }
            for i, d in enumerate(history.deliveries)
        ],
    )
    journey_file(tmp, SILENT, "silent")
    return tmp


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_fit_saves_a_model_and_reports_the_fit_on_held_out_history(recorded: Path) -> None:
    out = recorded / "model.json"
    code, output = invoke(
        "simulate",
        "fit",
        "--events",
        str(recorded / "events.jsonl"),
        "--conversion",
        "order",
        "--out",
        str(out),
        "--runs",
        "3",
    )
    assert code == 0, output
    assert "saved to" in output and "Event mix (held out)" in output and "Weekly error" in output
    model = json.loads(out.read_text())
    assert sorted(model["segments"]) == ["eager", "slow"]
    code, output = invoke(
        "simulate",
        "fit",
        "--archive",
        str(recorded / "archive"),
        "--conversion",
        "order",
        "--out",
        str(recorded / "model2.json"),
        "--format",
        "json",
        "--runs",
        "2",
    )
    assert code == 0, output
    fit = json.loads(output)["fit"]
    assert fit["conversion"] == "order" and fit["weeks"] and fit["verdict"]


def test_simulate_reports_and_draws_charts_and_compares_two_drafts(recorded: Path) -> None:
    code, output = invoke(
        "simulate",
        "fit",
        "--events",
        str(recorded / "events.jsonl"),
        "--conversion",
        "order",
        "--out",
        str(recorded / "m.json"),
        "--runs",
        "2",
    )
    assert code == 0, output
    chart = recorded / "flow.html"
    code, output = invoke(
        "simulate",
        str(recorded / "reminder.yaml"),
        "--model",
        str(recorded / "m.json"),
        "--customers",
        "150",
        "--days",
        "14",
        "--runs",
        "3",
        "--chart",
        str(chart),
        "--compare",
        str(recorded / "silent.yaml"),
    )
    assert code == 0, output
    assert "Predicted flow through cart-reminder" in output and "Which draft is expected to win" in output
    assert chart.read_text().startswith("<!doctype html>")
    code, output = invoke(
        "simulate",
        "run",
        str(recorded / "reminder.yaml"),
        "--archive",
        str(recorded / "archive"),
        "--conversion",
        "order",
        "--customers",
        "100",
        "--days",
        "7",
        "--runs",
        "2",
        "--format",
        "json",
    )
    assert code == 0, output
    report = json.loads(output)
    assert report["drafts"] == ["cart-reminder"] and report["runs"] == 2
    png = recorded / "flow.png"
    code, output = invoke(
        "simulate",
        str(recorded / "reminder.yaml"),
        "--model",
        str(recorded / "m.json"),
        "--customers",
        "50",
        "--days",
        "7",
        "--runs",
        "1",
        "--chart",
        str(png),
    )
    assert code == 0, output
    assert png.read_bytes().startswith(b"\x89PNG")


def test_backtest_marks_counterfactual_sends(recorded: Path) -> None:
    code, output = invoke(
        "backtest",
        str(recorded / "silent.yaml"),
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-20",
        "--events",
        str(recorded / "events.jsonl"),
        "--format",
        "json",
    )
    assert code == 0, output
    assert json.loads(output)["entered"] > 0
    code, output = invoke(
        "backtest",
        str(recorded / "reminder.yaml"),
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-20",
        "--archive",
        str(recorded / "archive"),
    )
    assert code == 0, output
    flat = " ".join(output.split())  # rich wraps long lines to the terminal's width
    assert "counterfactual: nothing was sent" in flat and "Collisions with what actually ran" in flat


def test_bad_input_says_what_was_wrong_and_what_to_do(recorded: Path, tmp_path: Path) -> None:
    costs = tmp_path / "costs.yaml"
    costs.write_text("sms: cheap\n")
    code, output = invoke(
        "simulate",
        str(recorded / "reminder.yaml"),
        "--events",
        str(recorded / "events.jsonl"),
        "--costs",
        str(costs),
    )
    assert code == 1 and "sms: 'cheap' is not a cost" in output, output
    code, output = invoke("simulate", str(recorded / "reminder.yaml"), "--archive", str(tmp_path / "none"))
    assert code == 1 and "holds no event records" in output, output
    code, output = invoke(
        "simulate", str(recorded / "reminder.yaml"), "--events", str(recorded / "events.jsonl"), "--runs", "0"
    )
    assert code == 1 and "must be at least 1" in output, output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, output = invoke("simulate", str(recorded / "reminder.yaml"), "--model", str(bad))
    assert code == 1 and "rumbo simulate fit" in output, output
    lines = tmp_path / "events.jsonl"
    lines.write_text('{"type": "track", "event": "x", "timestamp": 1}\n')
    code, output = invoke("simulate", "fit", "--events", str(lines))
    assert code == 1 and f"{lines}:1:" in output and "userId" in output, output
    code, output = invoke(
        "backtest",
        str(recorded / "reminder.yaml"),
        "--from",
        "soon",
        "--to",
        "2026-03-20",
        "--events",
        str(recorded / "events.jsonl"),
    )
    assert code == 1 and "YYYY-MM-DD" in output, output
