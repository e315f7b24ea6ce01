"""Walks: passes over a workspace's customers, a bounded batch per tick, that put messages in their logs.

Three things need every customer (or every member of a segment) reached, not only those who send events:

* `segment:<name>` re-judges everyone against a segment's rule: once when the rule is new or changed, and
  again every `refresh` seconds (time-based rules: `days_since`, `count(..., within=...)`). Customers whose
  membership the rule now contradicts get a `rumbo:segments` message; the worker judges them again when it
  reaches that message, in log order, and feeds the changes to the engine. After a segment is deleted, a
  pass over its members lets them leave.
* `schedule:<journey>` delivers a cron entry's firing: a `rumbo:schedule` message (a ScheduleTick) to each
  member of the audience segment (every customer when there is none). The pass's mark is the cron time it
  delivers, so a firing is delivered once even across restarts; firings missed while rumbo was down are
  delivered once, as the latest of them, and firings while the journey is paused or stopped are skipped.
  The first time a schedule is seen, its latest firing counts as done: a journey published at 10:05 does
  not fire for 10:00.
* `rollout:<journey>` reaches the customers holding runs that a publish (`in_flight: migrate | stop`) or a
  stop moves or ends (lifecycle.py): a `rumbo:lifecycle` message, whose processing moves them.

Each batch appends its messages and advances the walk's cursor in one transaction, so after a crash the
batch is either wholly done or done again; message ids are derived from the walk's pass and the customer,
so a batch done again appends nothing twice. The cursor is the last customer id reached (customers are
walked in id order), and a pass moves only if the row is still as this worker last read it, so two
workers never walk one pass twice over.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import orjson
from croniter import croniter

from rumbo.engine.state import Customer
from rumbo.journey.model import Entry
from rumbo.runtime.codec import StateUnreadable, decode
from rumbo.runtime.intake import iso
from rumbo.runtime.setup import Setup
from rumbo.store.base import NewEvent
from rumbo.store.sql import SqlStore, Tx

log = logging.getLogger("rumbo.walks")

SEGMENTS = "rumbo:segments"  # judge this customer's segments again
SCHEDULE = "rumbo:schedule"  # a scheduled entry fired (replay/virtual.py's line type, read as ScheduleTick)
LIFECYCLE = "rumbo:lifecycle"  # this customer holds runs a publish or stop moves


@dataclass(slots=True)
class _Row:
    mark: str
    pass_no: int
    started_at: float
    cursor: str
    finished_at: float | None


class _Moved(Exception):
    """Another worker changed the walk since it was read; it is read again."""


def latest_firing(cron: str, timezone: str | None, now: float) -> float:
    """The latest time at or before `now` that the cron expression names, on the zone's wall clock."""
    zone = ZoneInfo(timezone or "UTC")
    # croniter's get_prev is strictly before its start; a microsecond later makes `now` itself count.
    start = dt.datetime.fromtimestamp(now, zone) + dt.timedelta(microseconds=1)
    return float(croniter(cron, start).get_prev(float))


def next_firing(cron: str, timezone: str | None, after: float) -> float:
    zone = ZoneInfo(timezone or "UTC")
    return float(croniter(cron, dt.datetime.fromtimestamp(after, zone)).get_next(float))


def _message(kind: str, message_id: str, at: float, **fields: object) -> dict[str, object]:
    return {"type": kind, "messageId": message_id, "timestamp": iso(at), **fields}


class Walks:
    """The walks of one workspace; `tick` advances the due ones by at most `batch` customers in all."""

    def __init__(self, store: SqlStore, workspace: str, *, batch: int = 500) -> None:
        self.store, self.workspace, self.batch = store, workspace, batch
        self._setup: Setup | None = None
        self._schedules: dict[str, Entry] = {}  # of the setup: schedule walk -> its cron entry
        self._rollouts: dict[str, str] = {}  # of the setup: journey -> the change its runs must follow
        self._rows: dict[str, _Row] | None = None  # None: read them again
        self._next: dict[tuple[str, str], float] = {}  # (schedule walk, mark) -> the next firing after it

    # ---- what should be walking --------------------------------------------------------------------
    def _plan(self, setup: Setup, now: float) -> None:
        """Start the passes a new setup asks for: new or changed segment rules, deleted segments, new
        publishes or stops; and the first sight of a schedule."""
        self._schedules = {}
        for live in setup.engine.live.values():
            entry = next((e for e in live.entries if e.kind == "schedule" and e.cron), None)
            if entry is not None:
                self._schedules["schedule:" + live.id] = entry
        self._rollouts = setup.lifecycle.rollouts()
        rows = self._load()
        for rule in setup.segments.rules:
            walk = "segment:" + rule.name
            if walk not in rows or rows[walk].mark != rule.source:
                self._start(walk, rule.source, now)
        for walk, row in rows.items():
            name = walk.removeprefix("segment:")
            if walk.startswith("segment:") and name not in setup.segments.names and row.mark:
                self._start(walk, "", now)  # deleted: its members leave
        for journey, cause in self._rollouts.items():
            known = rows.get("rollout:" + journey)
            if known is None or known.mark != cause:
                self._start("rollout:" + journey, cause, now)
        timezone = setup.engine.policy.default_timezone
        for walk, entry in self._schedules.items():
            if walk not in rows:
                assert entry.cron is not None
                fired = latest_firing(entry.cron, entry.timezone or timezone, now)
                self._start(walk, repr(fired), now, finished=True)

    def _due(self, setup: Setup, now: float) -> Iterator[str]:
        rows = self._load()
        for rule in setup.segments.rules:
            walk = "segment:" + rule.name
            row = rows.get(walk)
            if row is None or row.mark != rule.source:
                continue
            if row.finished_at is None or (
                rule.refresh is not None
                and now >= row.started_at + rule.refresh
                and self._start(walk, rule.source, now)
            ):
                yield walk
        for walk, row in rows.items():
            if walk.startswith("segment:") and not row.mark and row.finished_at is None:
                yield walk
        for journey in self._rollouts:
            row = rows.get("rollout:" + journey)
            if row is not None and row.finished_at is None:
                yield "rollout:" + journey
        timezone = setup.engine.policy.default_timezone
        for walk, entry in self._schedules.items():
            row = rows.get(walk)
            if row is None:
                continue
            open_ = walk.removeprefix("schedule:") not in setup.lifecycle.closed
            if row.finished_at is None:
                if open_:
                    yield walk
                else:  # paused or stopped during a firing: the rest of the audience is not started
                    self._save(walk, row, [], [], 1, now)
                continue
            assert entry.cron is not None
            tz = entry.timezone or timezone
            upcoming = self._next.get((walk, row.mark))
            if upcoming is None:
                upcoming = self._next[(walk, row.mark)] = next_firing(entry.cron, tz, float(row.mark))
            if now >= upcoming:
                fired = repr(latest_firing(entry.cron, tz, now))
                if self._start(walk, fired, now, finished=not open_) and open_:
                    yield walk

    # ---- ticking -----------------------------------------------------------------------------------
    def tick(self, setup: Setup, now: float) -> int:
        """Advance what is due; return how many customers were looked at (0: nothing to walk)."""
        if setup is not self._setup:
            self._setup = setup
            self._plan(setup, now)
        budget = self.batch
        for walk in list(self._due(setup, now)):
            if budget <= 0:
                break
            budget -= self._advance(setup, walk, now, budget)
        return self.batch - budget

    def _advance(self, setup: Setup, walk: str, now: float, limit: int) -> int:
        rows = self._load()
        row = rows[walk]
        kind, _, name = walk.partition(":")
        messages: list[tuple[str, dict[str, object]]] = []
        if kind == "segment" and row.mark:
            rule = setup.segments.by_name[name]
            timezone = setup.engine.policy.default_timezone
            customers, states = self._customers(row.cursor, limit)
            for customer in states:
                if setup.segments.member(rule, customer, now, timezone) != (name in customer.segments):
                    messages.append((customer.id, self._recheck(name, row, customer.id, now)))
        elif kind == "segment":
            customers = self._members(name, row.cursor, limit)
            messages = [(c, self._recheck(name, row, c, now)) for c in customers]
        elif kind == "schedule":
            audience = self._schedules[walk].audience
            customers = (
                self._members(audience, row.cursor, limit)
                if audience is not None
                else self._customers(row.cursor, limit, b"")[0]
            )
            at = float(row.mark)
            for c in customers:
                message_id = f"schedule:{name}:{row.mark}:{c}"
                messages.append((c, _message(SCHEDULE, message_id, at, journey=name)))
        else:
            moves = setup.lifecycle.moves
            # Most customers never were in the journey: only states holding its id are decoded.
            customers, states = self._customers(row.cursor, limit, name.encode())
            for customer in states:
                if any(r.journey == name and r.pair in moves for r in customer.runs.values()):
                    message_id = f"lifecycle:{name}:{row.pass_no}:{customer.id}"
                    messages.append((customer.id, _message(LIFECYCLE, message_id, now, journey=name)))
        self._save(walk, row, customers, messages, limit, now)
        return max(len(customers), 1)

    @staticmethod
    def _recheck(name: str, row: _Row, customer: str, now: float) -> dict[str, object]:
        return _message(SEGMENTS, f"segments:{name}:{row.pass_no}:{customer}", now, segment=name)

    # ---- reading customers -------------------------------------------------------------------------
    def _customers(
        self, after: str, limit: int, needle: bytes | None = None
    ) -> tuple[list[str], list[Customer]]:
        """The ids of the next customers with a state, in id order (the batch, for the cursor), and the
        decoded states of those whose stored state holds `needle` (b"": none; None: every one). A state
        that cannot be read is left out here; the worker reports it when it steps that customer."""
        rows = self.store._query(
            "SELECT customer, state FROM customer_state WHERE workspace = ? AND customer > ? "
            "ORDER BY customer LIMIT ?",
            (self.workspace, after, limit),
        )
        ids, customers = [str(row[0]) for row in rows], []
        for customer_id, state in rows:
            if needle == b"" or (needle is not None and needle not in bytes(state)):
                continue
            try:
                customers.append(decode(str(customer_id), bytes(state)))
            except StateUnreadable as exc:
                log.error("workspace %s: walk skips customer %s: %s", self.workspace, customer_id, exc)
        return ids, customers

    def _members(self, segment: str, after: str, limit: int) -> list[str]:
        rows = self.store._query(
            "SELECT customer FROM segment_members WHERE workspace = ? AND segment = ? AND customer > ? "
            "ORDER BY customer LIMIT ?",
            (self.workspace, segment, after, limit),
        )
        return [str(row[0]) for row in rows]

    # ---- the walks table ---------------------------------------------------------------------------
    def _load(self) -> dict[str, _Row]:
        if self._rows is None:
            rows = self.store._query(
                "SELECT walk, mark, pass_no, started_at, cursor, finished_at FROM walks WHERE workspace = ?",
                (self.workspace,),
            )
            self._rows = {w: _Row(m, int(p), s, c, f) for w, m, p, s, c, f in rows}
        return self._rows

    def _start(self, walk: str, mark: str, now: float, *, finished: bool = False) -> bool:
        """Begin a new pass of `walk` for `mark` (recorded as finished at once when nothing is to be done);
        False if another worker changed the walk first."""
        rows = self._load()
        known = rows.get(walk)
        new = _Row(mark, known.pass_no + 1 if known else 1, now, "", now if finished else None)
        try:
            with self.store._write() as tx:
                if known is None:
                    changed = tx.execute(
                        "INSERT INTO walks (workspace, walk, mark, pass_no, started_at, cursor, finished_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, walk) DO NOTHING",
                        (self.workspace, walk, mark, new.pass_no, now, "", new.finished_at),
                    )
                else:
                    changed = tx.execute(
                        "UPDATE walks SET mark = ?, pass_no = ?, started_at = ?, cursor = '', "
                        "finished_at = ? WHERE workspace = ? AND walk = ? AND pass_no = ?",
                        (mark, new.pass_no, now, new.finished_at, self.workspace, walk, known.pass_no),
                    )
                if changed != 1:
                    raise _Moved(walk)
        except _Moved:
            self._rows = None
            return False
        rows[walk] = new
        if not finished:
            log.info("workspace %s: walk %s begins pass %d (%s)", self.workspace, walk, new.pass_no, mark)
        return True

    def _save(
        self,
        walk: str,
        row: _Row,
        customers: list[str],
        messages: list[tuple[str, dict[str, object]]],
        limit: int,
        now: float,
    ) -> None:
        """Append the batch's messages and move the cursor past it, in one transaction."""
        cursor = customers[-1] if customers else row.cursor
        finished = now if len(customers) < limit else None
        events = [
            NewEvent(str(m["messageId"]), customer, now, now, orjson.dumps(m)) for customer, m in messages
        ]
        try:
            with self.store._write() as tx:
                self._move(tx, walk, row, cursor, finished)
                if events:
                    self.store._append(tx, self.workspace, events)
        except _Moved:
            self._rows = None
            return
        row.cursor, row.finished_at = cursor, finished
        if finished is not None:
            log.info("workspace %s: walk %s finished pass %d", self.workspace, walk, row.pass_no)

    def _move(self, tx: Tx, walk: str, row: _Row, cursor: str, finished: float | None) -> None:
        changed = tx.execute(
            "UPDATE walks SET cursor = ?, finished_at = ? WHERE workspace = ? AND walk = ? AND pass_no = ? "
            "AND cursor = ? AND finished_at IS NULL",
            (cursor, finished, self.workspace, walk, row.pass_no, row.cursor),
        )
        if changed != 1:
            raise _Moved(walk)
