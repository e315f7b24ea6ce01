"""Group commit: accepted messages from many concurrent requests share one durable transaction.

Each request hands its accepted messages to the appender and waits; a single thread takes everything queued
so far, resolves identities and appends it in one transaction per workspace, then answers every request.
Under load this turns a commit (an fsync on SQLite) per request into a commit per group, and an event is
still acknowledged only after it is durable.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from rumbo.identity import IdentityRules
from rumbo.ingest import Accepted, DeadLetter
from rumbo.runtime.intake import Intake, append_accepted
from rumbo.store.errors import StoreConflict, StoreUnavailable
from rumbo.store.profiles import IdentityCache
from rumbo.store.sql import SqlStore

log = logging.getLogger("rumbo.appender")

_ATTEMPTS = 5


@dataclass(slots=True)
class _Job:
    workspace: str
    accepted: Sequence[Accepted]
    blocked: Sequence[DeadLetter]
    received_at: float
    done: Future[Intake]


class Appender:
    """A thread that appends what `submit` is given, in groups; `close()` drains it and stops."""

    def __init__(
        self,
        open_store: Callable[[], SqlStore],
        *,
        rules: IdentityRules | None = None,
        cache: IdentityCache | None = None,
        max_group: int = 64,
    ) -> None:
        self._open_store, self._rules, self._cache, self._max_group = open_store, rules, cache, max_group
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="rumbo-appender", daemon=True)
        self._thread.start()

    def submit(
        self, workspace: str, accepted: Sequence[Accepted], blocked: Sequence[DeadLetter], received_at: float
    ) -> Future[Intake]:
        done: Future[Intake] = Future()
        self._queue.put(_Job(workspace, accepted, blocked, received_at, done))
        return done

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        store = self._open_store()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                group = [first]
                stop = False
                while len(group) < self._max_group:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    group.append(more)
                self._append(store, group)
                if stop:
                    return
        finally:
            store.close()

    def _append(self, store: SqlStore, group: list[_Job]) -> None:
        by_workspace: dict[str, list[_Job]] = {}
        for job in group:
            by_workspace.setdefault(job.workspace, []).append(job)
        for workspace, jobs in by_workspace.items():
            accepted = [a for job in jobs for a in job.accepted]
            blocked = [b for job in jobs for b in job.blocked]
            try:
                received_at = max(job.received_at for job in jobs)
                intake = append_retrying(
                    store,
                    workspace,
                    accepted,
                    blocked,
                    rules=self._rules,
                    cache=self._cache,
                    received_at=received_at,
                )
            except Exception as exc:  # every waiting request must hear of it, not only the first
                log.exception("appending %d messages failed", len(accepted))
                for job in jobs:
                    job.done.set_exception(exc)
                continue
            self._answer(jobs, intake)

    @staticmethod
    def _answer(jobs: list[_Job], intake: Intake) -> None:
        """Split the group's outcome back into each request's part."""
        start = 0
        for job in jobs:
            end = start + len(job.accepted)
            rejected = [(i - start, r) for i, r in intake.rejected if start <= i < end]
            duplicates = [i - start for i in intake.duplicates if start <= i < end]
            job.done.set_result(Intake(rejected, duplicates))
            start = end


def append_retrying(
    store: SqlStore,
    workspace: str,
    accepted: Sequence[Accepted],
    blocked: Sequence[DeadLetter],
    *,
    rules: IdentityRules | None,
    cache: IdentityCache | None,
    received_at: float,
) -> Intake:
    """Append, trying again when the database gave way to another transaction (a deadlock broken by
    PostgreSQL, two processes linking the same identifier): the whole transaction was rolled back, so
    trying again is safe, and the caller hears only once it committed."""
    for attempt in range(_ATTEMPTS):
        try:
            return append_accepted(
                store, workspace, accepted, blocked=blocked, rules=rules, cache=cache, received_at=received_at
            )
        except (StoreUnavailable, StoreConflict) as exc:
            if attempt == _ATTEMPTS - 1:
                raise
            log.warning("append gave way (%s); trying again", exc)
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")
