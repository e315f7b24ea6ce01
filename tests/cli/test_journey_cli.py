"""`rumbo journey` commands: exit codes asserted with the output as the message."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from rumbo.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "journeys"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_schema_prints_a_valid_json_schema() -> None:
    code, out = invoke("journey", "schema")
    assert code == 0, out
    jsonschema.Draft202012Validator.check_schema(json.loads(out))


def test_validate_accepts_the_examples() -> None:
    code, out = invoke("journey", "validate", str(EXAMPLES))
    assert code == 0, out
    assert "8 journey file(s) valid" in out


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("journey: bad\nentry: {event: nope}\nnodes:\n  a: {wait: {for: 1h}, next: b}\n")
    code, out = invoke("journey", "validate", str(bad))
    assert code == 1, out
    assert f"{bad}:2:9: $.entry.event: event 'nope' is not declared" in out
    assert f"{bad}:4:24: $.nodes.a.next: there is no node 'b'" in out
    assert "2 problems in 1 file(s)" in out


def test_replay_prints_per_node_counts_and_commands() -> None:
    code, out = invoke(
        "journey",
        "replay",
        str(EXAMPLES / "cart-recovery.yaml"),
        str(ROOT / "examples" / "events" / "cart-recovery.jsonl"),
    )
    assert code == 0, out
    assert "cart-recovery" in out and "wait_order" in out and "entered 36" in out
    code, out = invoke(
        "journey",
        "replay",
        str(EXAMPLES),
        str(ROOT / "examples" / "events" / "cart-recovery.jsonl"),
        "--format",
        "json",
        "--commands",
    )
    assert code == 0, out
    lines = out.splitlines()
    first_json = next(i for i, line in enumerate(lines) if line == "{")
    commands = [json.loads(line) for line in lines[:first_json]]
    assert {c["command"] for c in commands} >= {
        "Transition",
        "Send",
        "ScheduleTimer",
        "Conversion",
        "Decision",
    }
    summary = json.loads("\n".join(lines[first_json:]))
    assert summary["journeys"]["cart-recovery"]["entered"] == 36 and summary["refused"] == []


def test_replay_reports_a_bad_event_file_with_its_line(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text('{"type": "track", "event": "x", "userId": "u", "timestamp": 1}\nnot json\n')
    code, out = invoke("journey", "replay", str(EXAMPLES / "cart-recovery.yaml"), str(events))
    assert code == 1, out
    assert f"{events}:2: not a JSON object" in out


def test_graph_draws_mermaid_and_dot() -> None:
    code, out = invoke("journey", "graph", str(EXAMPLES / "cart-recovery.yaml"))
    assert code == 0, out
    assert out.startswith("flowchart TD") and 'split -->|"A"| email' in out and "wait_order" in out
    code, out = invoke("journey", "graph", str(EXAMPLES / "cart-recovery.yaml"), "--format", "dot")
    assert code == 0, out
    assert out.startswith('digraph "cart-recovery"') and '"wait_order" -> "thank" [label="happened"];' in out


def test_migration_plan_counts_where_waiting_runs_would_go(tmp_path: Path) -> None:
    current = EXAMPLES / "cart-recovery.yaml"
    draft = tmp_path / "cart-v2.yaml"
    draft.write_text(current.read_text().replace("wait_order", "wait_purchase"))
    events = tmp_path / "early.jsonl"
    lines = (ROOT / "examples" / "events" / "cart-recovery.jsonl").read_text().splitlines()
    events.write_text("\n".join(lines[:60]) + "\n")
    code, out = invoke("journey", "migration-plan", str(current), str(draft), str(events))
    assert code == 0, out
    assert "wait_order" in out and "stopped" in out and "0 would move, 11 would stop" in out
    code, out = invoke(
        "journey",
        "migration-plan",
        str(current),
        str(draft),
        str(events),
        "--map",
        "wait_order=wait_purchase",
    )
    assert code == 0, out
    assert "11 would move, 0 would stop" in out
    code, out = invoke("journey", "migration-plan", str(current), str(draft), str(events), "--map", "nope=x")
    assert code == 2 and "no node nope" in out, out
    other = tmp_path / "other.yaml"
    other.write_text(current.read_text().replace("journey: cart-recovery", "journey: other"))
    code, out = invoke("journey", "migration-plan", str(current), str(other), str(events))
    assert code == 1 and "a new version keeps the id" in out, out
