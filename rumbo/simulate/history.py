"""Recorded history as the simulation layer reads it: events, identify traits and deliveries per customer.

History comes from the Parquet archive (events and delivery records) or from Segment-shaped event files
(JSON lines). Both are reduced to the same few fields, so learning and backtests do not care where it
came from. The raw Segment messages are kept too, because a backtest feeds them to the engine unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from rumbo.analytics.archive import Archive
from rumbo.engine.inputs import TYPE_EVENT_NAMES
from rumbo.replay.virtual import customer_of, event_time
from rumbo.simulate.errors import SimulationError


class Seen(NamedTuple):
    """One observed event of one customer."""

    customer: str
    name: str
    at: float
    properties: Mapping[str, Any]


class Delivered(NamedTuple):
    """What became of one send: the best status it reached (queued < sent < opened < clicked)."""

    customer: str
    journey: str
    channel: str
    template: str
    at: float
    opened: bool
    clicked: bool


@dataclass(slots=True)
class History:
    """Events sorted by time, each customer's identify traits, deliveries, and the raw messages."""

    events: list[Seen] = field(default_factory=list)
    traits: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[Delivered] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""

    @property
    def start(self) -> float:
        return self.events[0].at if self.events else 0.0

    @property
    def end(self) -> float:
        return self.events[-1].at if self.events else 0.0

    def customers(self) -> set[str]:
        return {e.customer for e in self.events} | set(self.traits)

    def between(self, start: float, end: float) -> History:
        """The part of the history in [start, end); traits are kept whole (a profile has no time)."""
        return History(
            [e for e in self.events if start <= e.at < end],
            self.traits,
            [d for d in self.deliveries if start <= d.at < end],
            [m for m in self.messages if start <= event_time(m) < end],
            self.source,
        )


def from_messages(messages: Iterable[Mapping[str, Any]], source: str = "") -> History:
    """History from Segment-shaped messages (rumbo's own `rumbo:*` replay lines are kept for backtests)."""
    history = History(source=source)
    for message in messages:
        history.messages.append(dict(message))
        kind = str(message.get("type", "track"))
        if kind.startswith("rumbo:"):
            continue
        customer, at = customer_of(message), event_time(message)
        if kind == "identify":
            traits = message.get("traits")
            if isinstance(traits, Mapping):
                history.traits.setdefault(customer, {}).update(traits)
            continue
        name = message.get("event") if kind == "track" else TYPE_EVENT_NAMES.get(kind, kind)
        if isinstance(name, str) and name:
            properties = message.get("properties")
            history.events.append(
                Seen(customer, name, at, properties if isinstance(properties, Mapping) else {})
            )
    history.events.sort(key=lambda e: e.at)
    history.messages.sort(key=event_time)
    return history


def from_files(paths: Iterable[str | Path]) -> History:
    """History from JSON-lines event files; a bad line is reported with its file and line number."""
    messages: list[dict[str, Any]] = []
    names = []
    for path in map(Path, paths):
        names.append(str(path))
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise SimulationError(
                f"{path}: cannot read the event file ({exc.strerror}) — check the path"
            ) from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                message = orjson.loads(line)
                if not isinstance(message, dict):
                    raise ValueError("a line must be one JSON object")
                customer_of(message)
                event_time(message)
            except (orjson.JSONDecodeError, ValueError) as exc:
                raise SimulationError(
                    f"{path}:{number}: {exc} — each line must be a Segment message with a userId or "
                    "anonymousId and a timestamp"
                ) from exc
            messages.append(message)
    return from_messages(messages, source=", ".join(names))


def from_archive(root: str | Path) -> History:
    """History from an archive folder: event records (as Segment messages) and delivery records."""
    archive = Archive(root)
    event_files = archive.files("event")
    if not event_files:
        raise SimulationError(
            f"{archive.root}: the archive holds no event records — point --archive at an archive folder "
            "(`rumbo demo` writes one under $RUMBO_HOME/demo/archive/default), import events with "
            "`rumbo analyze import`, or give event files with --events"
        )
    messages = []
    for row in _rows(event_files):
        message = {
            "type": row.get("type") or "track",
            "messageId": row.get("messageId") or "",
            "userId": row.get("customer") or row.get("userId"),
            "event": row.get("event"),
            "timestamp": _seconds(row.get("timestamp")),
            "properties": _json(row.get("properties")),
            "traits": _json(row.get("traits")),
            "context": _json(row.get("context")),
        }
        if message["userId"] is None:
            continue
        messages.append({k: v for k, v in message.items() if v is not None})
    history = from_messages(messages, source=str(archive.root))
    history.deliveries = deliveries_of(_rows(archive.files("delivery")))
    return history


def deliveries_of(rows: Iterable[Mapping[str, Any]]) -> list[Delivered]:
    """One Delivered per send key: when it was first recorded and whether it was opened or clicked."""
    sends: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row.get("send") or f"{row.get('customer')}:{row.get('run')}:{row.get('node')}")
        at = _seconds(row.get("at")) or 0.0
        status = row.get("status")
        seen = sends.get(key)
        if seen is None:
            seen = sends[key] = {
                "customer": str(row.get("customer")),
                "journey": str(row.get("journey") or ""),
                "channel": str(row.get("channel") or "other"),
                "template": str(row.get("template") or ""),
                "at": at,
                "opened": False,
                "clicked": False,
            }
        seen["at"] = min(seen["at"], at)
        if status in ("opened", "clicked"):
            seen["opened"] = True
        if status == "clicked":
            seen["clicked"] = True
    return sorted((Delivered(**s) for s in sends.values()), key=lambda d: d.at)


def _rows(files: list[Path]) -> list[dict[str, Any]]:
    if not files:
        return []
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return float(value.timestamp())


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value
