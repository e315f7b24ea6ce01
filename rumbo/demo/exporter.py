"""The demo's analytics archive: rumbo's exporter in a process of its own, on the demo's clock.

It is the exporter `rumbo serve` runs as a thread (`rumbo.runtime.archiver.Archiver`), here beside the
runtime rather than inside it: copying a million rows to Parquet is work the runtime's process would
otherwise do between simulated hours, and in a process of its own it runs on the second core. It exports a
round every few seconds while the demo runs, and a last round when asked to stop, so that the archive holds
everything committed by then; its answer is what it exported, by kind.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rumbo.demo.clock import SharedClock
from rumbo.demo.errors import DemoError
from rumbo.demo.processes import ChildProcess, serve_child
from rumbo.runtime.archiver import Archiver, ExportReport
from rumbo.store.sqlite import SqliteStore

ARCHIVE = "archive"  # <home>/archive, where `rumbo serve` on the demo's home would export too
INTERVAL = 10.0  # seconds between rounds while the demo runs
LEASE = 30 * 86400.0  # cursors are leased in demo time, which jumps an hour at a step


def raise_errors(report: ExportReport) -> None:
    """Stop the demo on an export round that failed for any kind."""
    if report.errors:
        raise DemoError("; ".join(f"archiving {k.kind}: {k.error}" for k in report.errors))


def _run(args: dict[str, Any], ready: Callable[[], None], stop: threading.Event) -> dict[str, int]:
    """Export rounds until `stop` is set, then a last one; the rows exported, by kind."""
    home, workspace = Path(args["home"]), str(args["workspace"])
    store = SqliteStore.open(home, synchronous=args["synchronous"])
    try:
        archiver = Archiver(store, home / ARCHIVE, lease=LEASE, clock=SharedClock.follow(Path(args["clock"])))
        exported: Counter[str] = Counter()
        ready()
        while True:
            last = stop.is_set()  # read before the round, so that the last round follows the stop
            report = archiver.export([workspace])
            raise_errors(report)
            exported.update({k.kind: k.rows for k in report.kinds})
            if last:
                return dict(exported)
            stop.wait(INTERVAL)
    finally:
        store.close()


def exporter_process(home: Path, workspace: str, clock: SharedClock, synchronous: str) -> ChildProcess:
    """The exporter's process, not started; `stop()` answers with the rows it exported, by kind."""
    args = {"home": str(home), "workspace": workspace, "clock": str(clock.path), "synchronous": synchronous}
    return ChildProcess("the archive exporter", __name__, args)


if __name__ == "__main__":
    serve_child(_run)
