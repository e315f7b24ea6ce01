"""`rumbo archive export|status` through click, on the SQLite store in RUMBO_HOME."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from rumbo.cli.main import main
from rumbo.runtime.archiver import archive_root
from rumbo.store import NewEvent
from rumbo.store.sqlite import SqliteStore

T0 = 1_772_409_600.0


def viewed(i: int) -> NewEvent:
    body = {"type": "track", "event": "viewed", "messageId": f"m{i}", "userId": f"u{i % 3}"}
    return NewEvent(f"m{i}", f"u{i % 3}", T0 + i * 60, T0 + i * 60, orjson.dumps(body))


def seed(home: Path, events: int) -> None:
    store = SqliteStore.open(home)
    try:
        store.upgrade()
        if not store.workspaces():
            store.create_workspace("default", at=T0)
        start = store._query("SELECT COUNT(*) FROM events")[0][0]
        store.append_events("default", [viewed(i) for i in range(start, start + events)])
    finally:
        store.close()


def run(home: Path, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"RUMBO_HOME": str(home), "RUMBO_DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    return result.output


def test_export_once_then_status_then_only_what_is_new(tmp_path: Path) -> None:
    home = tmp_path / "data"
    seed(home, 5)
    assert "default/event: 5 rows in 1 files" in run(home, "archive", "export", "--once")
    assert list((home / "archive" / "default" / "event").rglob("part-*.parquet"))
    status = run(home, "archive", "status")
    assert "default" in status and "event" in status and "transition" in status
    assert "0 rows exported" in run(home, "archive", "export", "--once")
    seed(home, 2)
    assert "default/event: 2 rows in 1 files" in run(home, "archive", "export", "--once")


def test_analyses_pointed_at_the_exporters_folder_say_which_workspace_folder_to_read(tmp_path: Path) -> None:
    home = tmp_path / "data"
    seed(home, 3)
    run(home, "archive", "export", "--once")
    root = home / "archive"
    printed = run(home, "analyze", "funnel", "viewed", "bought", "--archive", str(root))
    assert f"--archive {root / 'default'}" in printed
    printed = run(home, "analyze", "funnel", "viewed", "bought", "--archive", str(root / "default"))
    assert "nothing found" not in printed and "viewed" in printed


def test_postgresql_needs_an_archive_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["archive", "export", "--once", "--database", "postgresql://nobody@127.0.0.1:1/none"]
    )
    assert result.exit_code == 2 and "--archive" in result.output, result.output


def test_where_the_archive_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUMBO_ARCHIVE", raising=False)
    monkeypatch.delenv("RUMBO_DATABASE_URL", raising=False)
    monkeypatch.setenv("RUMBO_HOME", str(tmp_path / "home"))
    assert archive_root(None, None, None) == tmp_path / "home" / "archive"
    assert archive_root(None, None, tmp_path / "data") == tmp_path / "data" / "archive"
    assert archive_root(tmp_path / "given", "postgresql://x", None) == tmp_path / "given"
    assert archive_root(None, "postgresql://x", None) is None  # several processes share PostgreSQL
    monkeypatch.setenv("RUMBO_DATABASE_URL", "postgresql://x")
    assert archive_root(None, None, None) is None
    assert (
        archive_root(None, None, tmp_path / "data") == tmp_path / "data" / "archive"
    )  # home wins, as in serve
    monkeypatch.setenv("RUMBO_ARCHIVE", str(tmp_path / "env"))
    assert archive_root(None, None, None) == tmp_path / "env"
