"""What only the PostgreSQL store does: connection errors, reconnecting, and skip-or-fail without a server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from rumbo.store import open_store
from rumbo.store.errors import StoreUnavailable
from rumbo.store.postgres import PostgresStore
from tests.store.conftest import Factory

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "postgresql://rumbo:s3cret@127.0.0.1:1/test"  # nothing listens on port 1


def test_an_unreachable_server_is_reported_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as raised:
        PostgresStore(NOWHERE, connect_timeout=1)
    message = str(raised.value)
    assert "postgresql://rumbo@127.0.0.1:1/test" in message
    assert "s3cret" not in message
    assert "RUMBO_DATABASE_URL" in message


def test_rumbo_database_url_selects_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUMBO_DATABASE_URL", NOWHERE)
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1\b"):
        open_store()


def test_a_broken_connection_fails_one_call_then_reconnects(postgres_factory: Factory) -> None:
    store = postgres_factory()
    assert isinstance(store, PostgresStore)
    store.upgrade()
    store.create_workspace("acme", at=1.0)
    pid = store._conn.info.backend_pid
    with psycopg.connect(store._url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreUnavailable):
        store.workspaces()
    assert store.workspaces() == ["acme"]

    # While the server stays unreachable, every call says so, writes included; none is half done.
    url = store._url
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (store._conn.info.backend_pid,))
    store._url = NOWHERE
    for _ in range(2):
        with pytest.raises(StoreUnavailable, match="is unavailable"):
            store.create_workspace("globex", at=2.0)
    store._url = url
    store.create_workspace("globex", at=3.0)
    assert store.workspaces() == ["acme", "globex"]


def _run_one_postgres_case(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["RUMBO_TEST_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/test"
    if ci is not None:
        env["CI"] = ci
    case = "tests/store/test_conformance.py::test_a_workspace_id_is_taken_once[postgres]"
    return subprocess.run(
        [sys.executable, "-m", "pytest", case, "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_server_the_postgresql_cases_skip_naming_the_setting() -> None:
    run = _run_one_postgres_case(ci=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout and "RUMBO_TEST_DATABASE_URL" in run.stdout, run.stdout


def test_on_ci_a_missing_server_fails_the_postgresql_cases() -> None:
    run = _run_one_postgres_case(ci="true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout and "on CI the PostgreSQL store tests must run" in run.stdout, run.stdout
