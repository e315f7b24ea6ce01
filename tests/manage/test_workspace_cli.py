"""`rumbo workspace create | list | rotate-keys` on a real SQLite data directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rumbo.cli.main import main
from rumbo.store.sqlite import SqliteStore


def test_create_list_and_rotate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUMBO_HOME", str(tmp_path))
    monkeypatch.delenv("RUMBO_DATABASE_URL", raising=False)
    runner = CliRunner()
    created = runner.invoke(main, ["workspace", "create", "acme"])
    assert created.exit_code == 0, created.output
    write = re.search(r"write key: (rw_\S+)", created.output)
    admin = re.search(r"admin key: (ra_\S+)", created.output)
    assert write and admin and "Authorization: Bearer" in created.output
    store = SqliteStore.open(tmp_path)  # the schema was upgraded by the command itself
    match = store.find_key(admin.group(1))
    assert match is not None and (match.workspace, match.role) == ("acme", "admin")
    again = runner.invoke(main, ["workspace", "create", "acme"])
    assert again.exit_code == 1 and "already exists" in again.output, again.output
    bad = runner.invoke(main, ["workspace", "create", "no spaces"])
    assert bad.exit_code == 2 and "letters, digits" in bad.output, bad.output
    listed = runner.invoke(main, ["workspace", "list"])
    assert listed.exit_code == 0 and listed.output == "acme\n", listed.output
    rotated = runner.invoke(main, ["workspace", "rotate-keys", "acme", "--role", "write"])
    assert rotated.exit_code == 0, rotated.output
    new_write = re.search(r"write key: (rw_\S+)", rotated.output)
    assert new_write and "admin key" not in rotated.output
    assert store.find_key(write.group(1)) is None and store.find_key(new_write.group(1)) is not None
    assert store.find_key(admin.group(1)) is not None
    missing = runner.invoke(main, ["workspace", "rotate-keys", "nope"])
    assert missing.exit_code == 1 and "no workspace 'nope'" in missing.output, missing.output
    rows = store._query("SELECT actor_role, kind, action FROM audit_log ORDER BY id")
    assert rows == [("cli", "workspace", "create"), ("cli", "key", "rotate")]
    store.close()
