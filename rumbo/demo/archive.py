"""The analytics archive from what the runtime stored: events, transitions, decisions, suppressions,
conversions and deliveries, read from the store in chunks and appended to the Parquet archive.

Incremental: `archive_store` appends what the store holds beyond the position it is given and returns the
new position, so the demo archives most of the store while the relay finishes, then the rest. (Events and
records are numbered in commit order by the store, and the archive only ever adds files.) Self-contained
on purpose: the runtime's own archive exporter can take its place without the demo changing otherwise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from rumbo.analytics.archive import Archive
from rumbo.ingest.channels import channel_of
from rumbo.runtime.intake import MERGE
from rumbo.store.sql import SqlStore

CHUNK = 100_000
_EVENT_COLUMNS = ("workspace", "customer", "messageId", "type", "event", "userId", "anonymousId", "channel")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


@dataclass(slots=True)
class Archived:
    """How far the archive has read the store (last event seq, last record id) and the rows it wrote."""

    event_seq: int = 0
    record_id: int = 0
    rows: Counter[str] = field(default_factory=Counter)


def write_events(store: SqlStore, workspace: str, archive: Archive, after: int = 0) -> tuple[int, int]:
    """The Segment events in the log after seq `after` (the runtime's own merge and `rumbo:*` lines stay
    out); how many were written, and the last seq read."""
    written, last = 0, after
    while True:
        rows = store._query(
            "SELECT seq, customer, message_id, at, received_at, body FROM events "
            "WHERE workspace = ? AND seq > ? ORDER BY seq LIMIT ?",
            (workspace, last, CHUNK),
        )
        if not rows:
            return written, last
        last = int(rows[-1][0])
        columns: dict[str, list[Any]] = {name: [] for name in _EVENT_COLUMNS}
        times: list[float] = []
        received: list[float] = []
        json_columns: dict[str, list[str | None]] = {"properties": [], "traits": [], "context": []}
        for _, customer, message_id, at, received_at, body in rows:
            message = orjson.loads(body)
            kind = str(message.get("type"))
            if kind == MERGE or kind.startswith("rumbo:"):
                continue
            for name, value in (
                ("workspace", workspace),
                ("customer", customer),
                ("messageId", message_id),
                ("type", kind),
                ("event", message.get("event")),
                ("userId", message.get("userId")),
                ("anonymousId", message.get("anonymousId")),
                ("channel", channel_of(message)),
            ):
                columns[name].append(value)
            times.append(at)
            received.append(received_at)
            for name, values in json_columns.items():
                values.append(_json(message.get(name)))
        table = pa.table(
            {
                **{name: pa.array(values, pa.string()) for name, values in columns.items()},
                "timestamp": pa.array(times, pa.float64()),
                "received_at": pa.array(received, pa.float64()),
                **{name: pa.array(values, pa.string()) for name, values in json_columns.items()},
            }
        )
        archive.append("event", table)
        written += table.num_rows


def write_records(
    store: SqlStore, workspace: str, archive: Archive, after: int = 0
) -> tuple[Counter[str], int]:
    """The records the worker and the relay wrote after id `after`: how many of each kind, the last id."""
    written: Counter[str] = Counter()
    last = after
    while True:
        rows = store._query(
            "SELECT id, kind, body FROM records WHERE workspace = ? AND id > ? ORDER BY id LIMIT ?",
            (workspace, last, CHUNK),
        )
        if not rows:
            return written, last
        last = int(rows[-1][0])
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for _, kind, body in rows:
            by_kind.setdefault(kind, []).append(orjson.loads(body))
        for kind, records in by_kind.items():
            archive.append(kind, records)
            written[kind] += len(records)


def archive_store(
    store: SqlStore, workspace: str, archive: Archive, done: Archived | None = None
) -> Archived:
    """Append what the store holds for `workspace` beyond `done` (from the start without it)."""
    done = done or Archived()
    events, event_seq = write_events(store, workspace, archive, done.event_seq)
    records, record_id = write_records(store, workspace, archive, done.record_id)
    return Archived(event_seq, record_id, done.rows + Counter(event=events) + records)
