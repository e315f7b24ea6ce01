"""`rumbo import` throughput and memory on a generated store-purchases CSV, against a floor.

Generates ROWS receipts (50,000 shoppers known by account, email or loyalty card, the mapping of
examples/imports/store-purchases.yaml) and measures, each phase in a process of its own so that its peak
memory is its own:

* floor: the same reader over the same file, every row read and decoded, then discarded;
* dry run: rows read, mapped, checked and judged by the tracking plan (none here), nothing written;
* import: all of that, plus identity resolution and the append, into a fresh SQLite database
  (or PostgreSQL with --database-url), one transaction per batch;
* re-import: the same file again, every row a duplicate.

Prints rows per second, the ratio of each phase's rate to the floor's, and each phase's peak resident
memory next to the file's size: memory stays flat however long the file is.
Run: .venv/bin/python bench/import_rate.py [--rows 200000] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from rumbo.ingest.files import FileSource, load_mapping
from rumbo.runtime.importer import open_import
from rumbo.store import open_store
from rumbo.store.sql import SqlStore

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "examples" / "imports" / "store-purchases.yaml"
STORES = ("Madrid Gran Vía", "Barcelona Diagonal", "Valencia Colón", "Sevilla Sierpes", "Bilbao Moyúa")
CATEGORIES = ("cameras", "phones", "accessories", "audio", "laptops")


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, 9, 0)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["receipt", "store", "sold_at", "customer_id", "email", "loyalty_card", "total", "items",
                      "category", "member"])  # fmt: skip
        for n in range(rows):
            shopper = rng.randrange(50_000)
            known = rng.random()
            sold = start + dt.timedelta(minutes=n * 2 + rng.randrange(2))
            out.writerow([
                f"R-{n:09d}",
                rng.choice(STORES),
                sold.strftime("%d/%m/%Y %H:%M"),
                f"u{shopper}" if known < 0.5 else "",
                f"shopper{shopper}@example.com" if known > 0.3 else "",
                f"LC-{shopper:06d}" if known < 0.3 or known > 0.8 else "",
                f"{rng.uniform(5, 400):.2f}",
                rng.randrange(1, 5),
                rng.choice(CATEGORIES),
                rng.choice(("yes", "no")),
            ])  # fmt: skip


def phase(name: str, path: Path, home: Path, url: str | None) -> dict[str, float]:
    """Run one phase in this process and return its figures."""
    os.environ["RUMBO_HOME"] = str(home)
    mapping = load_mapping(MAPPING)
    started = time.perf_counter()
    if name == "floor":
        source = FileSource(path, "csv", batch_rows=2000, delimiter=",", encoding="utf-8")
        rows = sum(len(batch.rows) for batch in source.batches())
        report = {"read": rows, "imported": 0, "duplicates": 0, "rejected": 0}
    else:
        store = open_store(url)
        assert isinstance(store, SqlStore)
        store.upgrade()
        if "default" not in store.workspaces():
            store.create_workspace("default", at=time.time())
        importer = open_import(store, path, mapping, dry_run=name == "dry run", rejects=home / "rejects.csv")
        report = importer.run().to_dict()
        store.close()
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**{k: report[k] for k in ("read", "imported", "duplicates", "rejected")}, "seconds": seconds,
            "peak_mib": peak_mib}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite (an empty database)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(orjson.dumps(phase(args.phase, args.file, args.home, args.database_url)).decode())
        return
    with tempfile.TemporaryDirectory() as tmp:
        path, home = Path(tmp) / "purchases.csv", Path(tmp) / "data"
        generate(path, args.rows)
        size_mib = path.stat().st_size / 2**20
        print(f"file                {args.rows:,} rows, {size_mib:.1f} MiB CSV; store: "
              f"{'PostgreSQL' if args.database_url else 'SQLite'}")  # fmt: skip
        floor_rate = 0.0
        for name in ("floor", "dry run", "import", "re-import"):
            command = [sys.executable, __file__, "--phase", name, "--file", str(path), "--home", str(home)]
            if args.database_url:
                command += ["--database-url", args.database_url]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            figures = orjson.loads(out.strip().splitlines()[-1])
            rate = figures["read"] / figures["seconds"]
            floor_rate = floor_rate or rate
            ratio = rate / floor_rate
            print(
                f"{name:<19} {rate:>9,.0f} rows/s  ({figures['seconds']:.1f} s, {ratio:.2f} of the floor)  "
                f"peak {figures['peak_mib']:.0f} MiB  imported {figures['imported']:,}  duplicates "
                f"{figures['duplicates']:,}  rejected {figures['rejected']:,}"
            )


if __name__ == "__main__":
    main()
