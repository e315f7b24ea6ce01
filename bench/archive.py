"""The archive exporter: how fast the store's events and records reach Parquet, against writing the same rows
with `Archive.append` alone (the Parquet writing every exporter pays), measured in the same run.

The store is filled as the runtime fills it: the demo's population through ingestion (validation, identity
resolution) into the log, then the worker running the example journeys over it, so the records are the ones
the engine writes. Then one exporter round copies everything; the reference writes the rows the round wrote
(read back from the archive) into a fresh archive. Prints rows/s for both and the ratio, on SQLite and, when
RUMBO_BENCH_DATABASE_URL or the local server is up, on PostgreSQL.

Run: .venv/bin/python bench/archive.py [--events 50000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rumbo.analytics.archive import Archive
from rumbo.demo.population import Population
from rumbo.demo.run import START, example_journeys
from rumbo.engine.policy import Policy
from rumbo.engine.step import Engine
from rumbo.ingest import IngestSettings, ingest_payload
from rumbo.journey.load import load_journeys
from rumbo.records import FIELDS
from rumbo.runtime.archiver import Archiver
from rumbo.runtime.intake import append_accepted, iso
from rumbo.runtime.worker import Worker
from rumbo.store.sql import SqlStore
from rumbo.store.sqlite import SqliteStore

WORKSPACE = "bench"
CHUNK = 1000


def fill(store: SqlStore, events: int) -> float:
    """The demo's customers through ingestion and the worker; returns the virtual time at the end."""
    store.upgrade()
    store.create_workspace(WORKSPACE, at=START)
    population = Population(max(200, events // 30), 60, START, seed=11)
    messages = [m for m in population.messages() if not str(m.get("type", "")).startswith("rumbo:")]
    messages = sorted(messages, key=lambda m: float(m["timestamp"]))[:events]
    for message in messages:
        message["timestamp"] = iso(float(message["timestamp"]))
    settings = IngestSettings()
    for start in range(0, len(messages), CHUNK):
        chunk = {"batch": messages[start : start + CHUNK]}
        received = START + 61 * 86400
        result = ingest_payload("batch", chunk, workspace=WORKSPACE, received_at=received, plan=None,
                                settings=settings)  # fmt: skip
        append_accepted(store, WORKSPACE, result.accepted, received_at=received)
    end = START + 61 * 86400
    engine = Engine(load_journeys([example_journeys()]), Policy(workspace=WORKSPACE))
    Worker(store, WORKSPACE, engine).run_until_idle(lambda: end)
    return end


def measure(name: str, store: SqlStore, events: int) -> None:
    fill(store, events)
    counts = {
        kind: int(n) for kind, n in store._query("SELECT kind, COUNT(*) FROM records GROUP BY kind")
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        report = Archiver(store, root / "exported").export([WORKSPACE])
        exported = time.perf_counter() - started
        assert report.errors == [], report.errors
        tables = {kind: pq.read_table(root / "exported" / WORKSPACE / kind) for kind in FIELDS
                  if (root / "exported" / WORKSPACE / kind).exists()}  # fmt: skip
        started = time.perf_counter()
        reference = Archive(root / "reference")
        for kind, table in tables.items():
            reference.append(kind, table.drop_columns(["day"]) if "day" in table.column_names else table)
        written = time.perf_counter() - started
    rows = report.rows
    print(f"{name}: {events:,} events in, records {counts}")
    print(
        f"  exporter, one round:  {rows:>9,} rows in {report.files:,} files  {rows / exported:>10,.0f} rows/s"
    )
    print(f"  Archive.append alone: {rows:>9,} rows                {rows / written:>10,.0f} rows/s")
    print(f"  ratio exporter / Archive.append: {exported / written:.2f}x the time")


def postgres() -> tuple[Callable[[], SqlStore], Callable[[], None]] | None:
    import psycopg

    url = os.environ.get("RUMBO_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None
    schema = f"rumbo_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE SCHEMA {schema}")

    def open_store() -> SqlStore:
        from rumbo.store.postgres import PostgresStore

        return PostgresStore(url, schema=schema)

    def drop() -> None:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()

    return open_store, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    events = parser.parse_args().events
    with tempfile.TemporaryDirectory() as home:
        store = SqliteStore(Path(home) / "rumbo.db")
        try:
            measure("SQLite", store, events)
        finally:
            store.close()
    pg = postgres()
    if pg is None:
        print("PostgreSQL: not reachable; set RUMBO_BENCH_DATABASE_URL to measure it")
        return
    open_store, drop = pg
    store = open_store()
    try:
        measure("PostgreSQL", store, events)
    finally:
        store.close()
        drop()


if __name__ == "__main__":
    main()
