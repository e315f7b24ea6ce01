"""The journey lifecycle as the runtime carries it out: paused, stopped and archived journeys, and runs in
flight when a new version is published with `in_flight: migrate | stop`.

What each state means for runs and entries
------------------------------------------
* **live**: entries start runs on the newest version; runs stay on the version they entered unless a later
  publish said otherwise (below).
* **paused**: no entry starts a run (the engine is told the journey is closed), and the runs hold where they
  are: the worker hides them from the engine, so no event moves them, and a timer of theirs that falls due
  is held (`timers.held`) and fires when the journey resumes. Firing on resume rather than shifting the
  timer by the length of the pause keeps what a wait means: "until Monday 09:00" or "14 days before the
  renewal" still point at the same instant, and a wait that ended during the pause simply ends now. The
  runs' sends then meet the send gate as any other (quiet hours, caps).
* **stopped** and **archived**: closed, and every run of the journey ends (`stopped` transitions).
* **publish with `drain`**: nothing moves; old runs finish on their version.
* **publish with `migrate` or `stop`**: runs on older versions follow the first such publish after their
  version: they move to it (node mapping as the engine defines: by `mapping`, else the same node id, else
  they stop) or end.

How it is carried out, exactly once
-----------------------------------
The rule is a property of state, not a message to deliver: whenever the worker steps a customer, it first
applies a `Migrate` for every run whose version the lifecycle says must move (`Lifecycle.moves`), in the
same transaction as the step. Applying it twice is impossible, because a moved or ended run is no longer on
that version. Customers nobody steps are reached by a walk (walks.py) that appends a `rumbo:lifecycle`
message to the log of every customer holding such runs, in bounded batches.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rumbo.engine.inputs import Migrate
from rumbo.runtime.codec import decode
from rumbo.store.catalog import PublishedVersion
from rumbo.store.sql import SqlStore

log = logging.getLogger("rumbo.lifecycle")

Mode = Literal["migrate", "stop"]


@dataclass(frozen=True, slots=True)
class Move:
    """Where the runs of an outdated version go: to `to_version` (0: they end), as `cause` said."""

    journey: str
    to_version: int
    mode: Mode
    mapping: tuple[tuple[str, str], ...]
    cause: str  # "publish:v3" or "stop:v3": the change that asked for it

    def migrate(self) -> Migrate:
        input_id = f"{self.journey}:{self.cause}"
        return Migrate(self.journey, self.to_version, input_id, self.mode, dict(self.mapping))


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The lifecycle of a workspace's journeys at one catalogue revision."""

    paused: frozenset[str] = frozenset()  # runs held where they are
    closed: frozenset[str] = frozenset()  # no new entries: paused, stopped, archived
    moves: Mapping[tuple[str, int], Move] = field(default_factory=dict)  # (journey, version) -> where to

    @classmethod
    def build(cls, versions: Iterable[PublishedVersion]) -> Lifecycle:
        """From the published versions, each with its journey's state (an archived journey's as stopped)."""
        by_journey: dict[str, list[PublishedVersion]] = defaultdict(list)
        for info in versions:
            by_journey[info.journey].append(info)
        paused, closed, moves = set(), set(), {}
        for journey, infos in by_journey.items():
            infos.sort(key=lambda v: v.version)
            state = infos[-1].state
            if state == "paused":
                paused.add(journey)
                closed.add(journey)
            elif state == "stopped":
                closed.add(journey)
                stop = Move(journey, 0, "stop", (), f"stop:v{infos[-1].version}")
                moves.update({(journey, info.version): stop for info in infos})
            else:
                # Newest first: `after` is the earliest migrate/stop publish newer than the version at hand.
                after: Move | None = None
                for info in reversed(infos):
                    if after is not None:
                        moves[(journey, info.version)] = after
                    if info.in_flight in ("migrate", "stop"):
                        mode: Mode = "stop" if info.in_flight == "stop" else "migrate"
                        mapping = tuple(sorted(info.mapping.items()))
                        after = Move(journey, info.version, mode, mapping, f"publish:v{info.version}")
        return cls(frozenset(paused), frozenset(closed), moves)

    def rollouts(self) -> dict[str, str]:
        """Per journey whose runs must move, the newest change asking for it (what a walk pass is for)."""
        newest: dict[str, Move] = {}
        for move in self.moves.values():
            known = newest.get(move.journey)
            if known is None or move.to_version > known.to_version:
                newest[move.journey] = move
        return {journey: move.cause for journey, move in newest.items()}


NO_LIFECYCLE = Lifecycle()


# ---- timers of paused journeys ---------------------------------------------------------------------


def hold_timers(store: SqlStore, workspace: str, timers: Iterable[tuple[str, str, int, str]]) -> None:
    """Keep due timers (customer, run, token, journey) of paused journeys from being claimed until resume."""
    rows = list(timers)
    if not rows:
        return
    with store._write() as tx:
        for customer, run, token, journey in rows:
            tx.execute(
                "UPDATE timers SET held = ?, claimed_until = NULL "
                "WHERE workspace = ? AND customer = ? AND run = ? AND token = ?",
                (journey, workspace, customer, run, token),
            )


def release_timers(store: SqlStore, workspace: str, paused: frozenset[str]) -> int:
    """Let the held timers of journeys no longer paused fire (they are overdue, so at once)."""
    keep = sorted(paused)
    marks = ", ".join("?" * len(keep))
    with store._write() as tx:
        return tx.execute(
            "UPDATE timers SET held = NULL WHERE workspace = ? AND held IS NOT NULL"
            + (f" AND held NOT IN ({marks})" if keep else ""),
            (workspace, *keep),
        )


# ---- counting runs, for the publishing dry run -----------------------------------------------------

_CHUNK = 1000


def count_runs(store: SqlStore, workspace: str, journey: str) -> Counter[tuple[int, str]]:
    """How many runs of `journey` wait at each (version, node), over every customer of the workspace.

    The database returns only the states that contain the journey's id as bytes (most customers are never
    in a given journey), a chunk at a time; those are decoded and their runs counted."""
    needle = journey.encode()
    contains = "instr(state, ?) > 0" if store.dialect == "sqlite" else "position(? IN state) > 0"
    counts: Counter[tuple[int, str]] = Counter()
    after = ""
    while True:
        rows = store._query(
            f"SELECT customer, state FROM customer_state WHERE workspace = ? AND customer > ? AND {contains} "
            "ORDER BY customer LIMIT ?",
            (workspace, after, needle, _CHUNK),
        )
        for customer, state in rows:
            for run in decode(customer, bytes(state)).runs.values():
                if run.journey == journey:
                    counts[(run.version, run.node)] += 1
        if len(rows) < _CHUNK:
            return counts
        after = rows[-1][0]
