"""The two dialects' migrations describe the same schema, so the stores cannot drift apart."""

from __future__ import annotations

import re

from rumbo.store.migrations import Dialect, latest, migrations

_TABLE = re.compile(r"CREATE TABLE (\w+) \((.*)\)", re.S)
_COLUMN = re.compile(r"^\s*(\w+) [A-Z]", re.M)
_INDEX = re.compile(r"CREATE INDEX (\w+) ON (\w+) \(([^)]*)\)")


def schema(dialect: Dialect) -> dict[str, object]:
    tables: dict[str, list[str]] = {}
    indexes: dict[str, tuple[str, str]] = {}
    for migration in migrations(dialect):
        for statement in migration.statements:
            if match := _TABLE.match(statement):
                columns = [c for c in _COLUMN.findall(match.group(2)) if c not in ("PRIMARY", "UNIQUE")]
                tables[match.group(1)] = columns
            elif match := _INDEX.match(statement):
                indexes[match.group(1)] = (match.group(2), match.group(3))
    return {"tables": tables, "indexes": indexes}


def test_both_dialects_have_the_same_migrations() -> None:
    sqlite, postgres = migrations("sqlite"), migrations("postgres")
    assert [(m.version, m.name) for m in sqlite] == [(m.version, m.name) for m in postgres]
    assert latest("sqlite") == latest("postgres") >= 1


def test_both_dialects_create_the_same_tables_columns_and_indexes() -> None:
    sqlite = schema("sqlite")
    assert sqlite == schema("postgres")
    tables, indexes = sqlite["tables"], sqlite["indexes"]
    assert isinstance(tables, dict) and isinstance(indexes, dict)
    # The core tables and indexes; later migrations add theirs (each checked by its own tests).
    assert {"events_pending", "timers_due", "outbox_pending", "records_customer"} <= set(indexes)
    assert set(tables) >= {
        "workspaces",
        "api_keys",
        "events",
        "customer_state",
        "timers",
        "outbox",
        "records",
    }
    # Every table is keyed by workspace; per-customer tables by (workspace, customer).
    for name, columns in tables.items():
        assert columns[0] == "workspace" or (name, columns[1]) in {
            ("events", "workspace"),
            ("records", "workspace"),
            ("consent_log", "workspace"),
        }
        if name in {"events", "customer_state", "timers", "outbox", "records"}:
            assert "customer" in columns, name
