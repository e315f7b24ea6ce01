"""A large file imports in bounded memory: 200,000 rows peak no higher than 20,000 did, and the report
gives the rate. Run in a process of its own, so that its peak memory is the import's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

SCRIPT = """
import csv, resource, sys, time
from pathlib import Path
from rumbo.ingest.files import with_options, ColumnMapping
from rumbo.runtime.importer import open_import
from rumbo.store.sqlite import SqliteStore

folder = Path(sys.argv[1])
store = SqliteStore.open(folder / "data")
store.upgrade()
store.create_workspace("default", at=0.0)
mapping = with_options(
    ColumnMapping(),
    event="order_completed",
    maps=["order=messageId", "buyer=userId", "at=timestamp:epoch", "total=properties.revenue:number"],
)
figures = []
for rows in (20_000, 200_000):
    path = folder / f"orders-{rows}.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["order", "buyer", "at", "total", "note"])
        for n in range(rows):
            at = 1_790_000_000 + n
            out.writerow([f"{rows}-{n}", f"u{n % 40_000}", at, f"{n % 400}.50", "x" * (n % 30)])
    report = open_import(store, path, mapping, rejects=folder / "rejects.csv").run()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.append({**report.to_dict(), "peak_mib": peak})
print(__import__("orjson").dumps(figures).decode())
"""


@pytest.mark.slow
def test_two_hundred_thousand_rows_import_in_the_memory_twenty_thousand_took(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=1800
    )
    assert run.returncode == 0, run.stderr
    small, large = orjson.loads(run.stdout.strip().splitlines()[-1])
    for report, rows in ((small, 20_000), (large, 200_000)):
        assert (report["read"], report["imported"], report["rejected"]) == (rows, rows, 0), report
        assert report["rows_per_second"] > 0
    print(f"200,000 rows at {large['rows_per_second']:,} rows/s; peak {large['peak_mib']:.0f} MiB")
    # Rows are read, imported and forgotten a batch at a time: ten times the rows, not more memory
    # (holding them would take hundreds of MiB). The margin covers the database's page cache.
    assert large["peak_mib"] - small["peak_mib"] < 48, (small["peak_mib"], large["peak_mib"])
