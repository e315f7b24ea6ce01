"""Two relays that both find no CSV file yet write its header once: a second header would read as a task."""

from __future__ import annotations

import threading
from pathlib import Path

from rumbo.delivery.channels.local import CSV_COLUMNS, _create_with_header


def test_racing_writers_create_one_header(tmp_path: Path) -> None:
    for attempt in range(20):
        path = tmp_path / f"call_centre_{attempt}.csv"
        start = threading.Barrier(8)

        def create(path: Path = path, start: threading.Barrier = start) -> None:
            start.wait()
            if not path.exists():
                _create_with_header(path)

        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert path.read_text().splitlines() == [",".join(CSV_COLUMNS)]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no leftovers
