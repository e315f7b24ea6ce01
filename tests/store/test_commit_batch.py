"""`commit_steps` writes a conflict-free batch set-wise, and must leave exactly what step by step would.

Every test runs on SQLite and PostgreSQL. Two workspaces of one database stand for two stores: the same
history is written into each, one batch set-wise in one and step by step (`commit_step`) in the other, and
their rows are compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import orjson
import pytest

from rumbo.engine.commands import CancelTimer, ScheduleTimer
from rumbo.records import Conversion, Decision, Transition
from rumbo.store.base import ConsentEntry, NewEvent, OutboxEntry, Step, StoredState
from rumbo.store.errors import DuplicateCommand, EventsAlreadyProcessed, VersionConflict
from rumbo.store.sql import Cursor, SqlStore

SETWISE, STEPWISE = "setwise", "stepwise"
AT = 500.0


def _event(ws: str, message_id: str, customer: str, at: float = 100.0) -> NewEvent:
    body = orjson.dumps({"messageId": f"{ws}:{message_id}", "type": "track", "event": "x"})
    return NewEvent(f"{ws}:{message_id}", customer, at, at + 1.0, body)


def _seqs(store: SqlStore, ws: str, customer: str) -> list[int]:
    return [e.seq for e in store.next_events(ws, [customer], limit=100)]


def _history(store: SqlStore, ws: str) -> None:
    """What is stored before the batch: customers at version 1 with timers, events waiting, and an anonymous
    customer with a state, a timer, a waiting event, a record and a segment, to be absorbed."""
    store.commit_step(Step(ws, "c1", 0, b"c1-v1", 10.0, timers=[ScheduleTimer("c1", "r1", 1, 900.0, "wait")]))
    store.commit_step(Step(ws, "c3", 0, b"c3-v1", 10.0, segments_entered=["vip"]))
    store.commit_step(
        Step(ws, "c4", 0, b"c4-v1", 10.0, timers=[ScheduleTimer("c4", "r4", 2, 50.0, "timeout")])
    )
    store.commit_step(
        Step(
            ws,
            "anon",
            0,
            b"anon-v1",
            10.0,
            timers=[ScheduleTimer("anon", "ra", 1, 700.0, "wait")],
            records=[Transition(ws, "anon", "j", 1, "ra", None, "a", "entered", "x", 10.0)],
            segments_entered=["browsers"],
        )
    )
    store.append_events(
        ws, [_event(ws, "e1", "c1"), _event(ws, "e2", "c1"), _event(ws, "e3", "c2"), _event(ws, "e4", "anon")]
    )


def _batch(store: SqlStore, ws: str) -> list[Step]:
    """A batch that writes every table: an update, a new customer, a merge, a fired timer."""
    transition = Transition(ws, "c1", "cart", 2, "r1", "wait", "email", "event", f"{ws}:e1", 400.0, "A")
    decision = Decision(
        ws, "c1", "cart", 2, "r1", "offer", (("d10", 0.25), ("ship", 0.75)), "ship", "ts", 401.0
    )
    emitted = _event(ws, "emitted-1", "c2", 450.0)
    return [
        Step(
            ws,
            "c1",
            1,
            b"c1-v2",
            AT,
            processed=_seqs(store, ws, "c1"),
            timers=[ScheduleTimer("c1", "r1", 2, 990.0, "timeout")],
            cancelled_timers=[CancelTimer("c1", "r1", 1)],
            outbox=[OutboxEntry(f"{ws}:cart:2:email:c1", "send", b'{"template":"t"}')],
            records=[transition, decision],
            consent=[ConsentEntry("email", True, f"{ws}:e1", 400.0)],
            segments_entered=["buyers", "vip"],
        ),
        Step(
            ws,
            "c2",
            0,
            b"c2-v1",
            AT,
            processed=_seqs(store, ws, "c2"),
            outbox=[OutboxEntry(f"{ws}:welcome:c2", "send", b"{}")],
            records=[Conversion(ws, "c2", "welcome", 1, "r2", "signup", 12.5, 450.0)],
            events=[emitted],
        ),
        Step(ws, "c3", 1, b"c3-v2", AT, absorbs="anon", segments_left=["vip"], segments_entered=["browsers"]),
        Step(ws, "c4", 1, b"c4-v2", AT, cancelled_timers=[CancelTimer("c4", "r4", 2)]),
    ]


def _rows(store: SqlStore, ws: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the workspace holds, in the order of generated ids, without the workspace and the ids;
    and names of the other workspace in bodies made neutral."""

    def query(sql: str) -> list[tuple[Any, ...]]:
        return [
            tuple(
                bytes(v).replace(ws.encode(), b"WS") if isinstance(v, bytes | memoryview) else v for v in row
            )
            for row in store._query(sql, (ws,))
        ]

    def text(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [tuple(v.replace(ws, "WS") if isinstance(v, str) else v for v in row) for row in rows]

    return {
        "state": query(
            "SELECT customer, version, state, updated_at FROM customer_state WHERE workspace = ? "
            "ORDER BY customer"
        ),
        "events": text(
            query(
                "SELECT customer, message_id, at, received_at, body, processed_at FROM events "
                "WHERE workspace = ? ORDER BY seq"
            )
        ),
        "timers": query(
            "SELECT customer, run, token, due_at, kind, claimed_until FROM timers "
            "WHERE workspace = ? ORDER BY customer, run, token"
        ),
        "outbox": text(
            query(
                "SELECT key, customer, kind, body, status, created_at, due_at FROM outbox "
                "WHERE workspace = ? ORDER BY key"
            )
        ),
        "records": text(
            query("SELECT customer, kind, at, body FROM records WHERE workspace = ? ORDER BY id")
        ),
        "consent": text(
            query(
                "SELECT customer, scope, granted, source, at FROM consent_log WHERE workspace = ? ORDER BY id"
            )
        ),
        "segments": query(
            "SELECT customer, segment, entered_at FROM segment_members WHERE workspace = ? "
            "ORDER BY customer, segment"
        ),
    }


class _CountingCursor:
    """A driver cursor that counts the statements sent through it (execute and executemany calls)."""

    def __init__(self, cursor: Cursor, calls: list[str]) -> None:
        self._cursor, self._calls = cursor, calls

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, query: Any, params: Any = (), /) -> Any:
        self._calls.append(str(query).split(None, 1)[0])
        return self._cursor.execute(query, params)

    def executemany(self, query: Any, params: Any, /) -> Any:
        self._calls.append(str(query).split(None, 1)[0])
        return self._cursor.executemany(query, params)

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


@pytest.fixture
def calls(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements the store sends from now on, by their first word (the driver itself is real)."""
    seen: list[str] = []
    opened: Callable[[], Cursor] = store._cursor
    monkeypatch.setattr(store, "_cursor", lambda: _CountingCursor(opened(), seen))
    yield seen


def test_a_batch_written_set_wise_leaves_the_same_rows_as_step_by_step(
    store: SqlStore, calls: list[str]
) -> None:
    for ws in (SETWISE, STEPWISE):
        store.create_workspace(ws, at=1.0)
        _history(store, ws)
    stepwise = _batch(store, STEPWISE)
    for s in stepwise:
        store.commit_step(s)
    calls.clear()
    assert store.commit_steps(_batch(store, SETWISE)) == [2, 1, 2, 2]
    assert "SAVEPOINT" in calls and "ROLLBACK" not in calls, calls

    setwise, reference = _rows(store, SETWISE), _rows(store, STEPWISE)
    assert setwise == reference
    # And the rows are the ones meant: not two copies of the same mistake.
    assert [(c, v) for c, v, _, _ in setwise["state"]] == [("c1", 2), ("c2", 1), ("c3", 2), ("c4", 2)]
    assert [row[0] for row in setwise["events"] if row[5] is None] == ["c3"]  # anon's waiting event moved
    assert [(c, r, t) for c, r, t, *_ in setwise["timers"]] == [("c1", "r1", 2), ("c3", "ra", 1)]
    assert [c for c, *_ in setwise["records"]] == ["c3", "c1", "c1", "c2"]
    assert orjson.loads(setwise["records"][2][3])["candidates"] == [
        {"offer": "d10", "score": 0.25},
        {"offer": "ship", "score": 0.75},
    ]
    assert [(c, s) for c, s, _ in setwise["segments"]] == [
        ("c1", "buyers"),
        ("c1", "vip"),
        ("c3", "browsers"),
    ]
    assert setwise["consent"] == [("c1", "email", True, "WS:e1", 400.0)]


def test_a_set_wise_batch_has_the_same_statements_whatever_its_size(
    store: SqlStore, calls: list[str]
) -> None:
    def one(who: str, expected: int) -> Step:
        return Step(
            SETWISE,
            who,
            expected,
            b"state",
            AT,
            timers=[ScheduleTimer(who, "r", expected + 1, 900.0, "wait")],
            cancelled_timers=[CancelTimer(who, "r", expected)] if expected else [],
            outbox=[OutboxEntry(f"{who}-{expected}", "send", b"")],
            records=[Transition(SETWISE, who, "j", 1, "r", "a", "b", "next", None, AT)],
        )

    def batch(customers: int, expected: int) -> list[Step]:
        return [one(f"c{customers}-{i:04d}", expected) for i in range(customers)]

    counts = []
    for size in (3, 300):
        for expected in (0, 1):
            calls.clear()
            results = store.commit_steps(batch(size, expected))
            assert results == [expected + 1] * size
            counts.append(len(calls))
    assert counts[0] == counts[2] and counts[1] == counts[3], counts


def test_a_conflict_in_a_batch_leaves_out_only_its_step_and_the_rest_commits(
    store: SqlStore, calls: list[str]
) -> None:
    ws = SETWISE
    store.create_workspace(ws, at=1.0)
    for customer in ("u2", "u3"):
        store.commit_step(Step(ws, customer, 0, b"v1", 10.0))
    store.commit_step(Step(ws, "u4", 0, b"v1", 10.0, outbox=[OutboxEntry("taken", "send", b"")]))
    store.append_events(ws, [_event(ws, "m1", "u1"), _event(ws, "m3", "u3"), _event(ws, "m7", "u7")])
    seq = {e.customer: e.seq for e in store.next_events(ws, ["u1", "u3", "u7"], limit=5)}
    store.commit_step(Step(ws, "u3", 1, b"v2", 20.0, processed=[seq["u3"]]))  # someone else took m3
    calls.clear()
    results = store.commit_steps(
        [
            Step(ws, "u7", 0, b"u7", AT, processed=[seq["u7"]], outbox=[OutboxEntry("u7", "send", b"")]),
            Step(
                ws,
                "u1",
                0,
                b"u1",
                AT,
                processed=[seq["u1"]],
                timers=[ScheduleTimer("u1", "r", 1, 9.0, "wait")],
            ),
            Step(ws, "u2", 0, b"stale", AT),  # u2 is at version 1
            Step(ws, "u3", 2, b"u3", AT, processed=[seq["u3"]]),  # its event is processed already
            Step(ws, "u4", 1, b"u4", AT, outbox=[OutboxEntry("taken", "send", b"again")]),
            Step(ws, "u5", 0, b"u5", AT, outbox=[OutboxEntry("shared", "send", b"5")]),
            Step(ws, "u6", 0, b"u6", AT, outbox=[OutboxEntry("shared", "send", b"6")]),  # u5 is written first
        ]
    )
    assert "ROLLBACK" in calls  # the set-wise attempt found the conflicts and gave way
    assert results[0] == 1 and results[1] == 1 and results[5] == 1
    assert isinstance(results[2], VersionConflict) and (results[2].expected, results[2].found) == (0, 1)
    assert isinstance(results[3], EventsAlreadyProcessed)
    assert isinstance(results[4], DuplicateCommand) and isinstance(results[6], DuplicateCommand)
    states = store.load_states(ws, ["u1", "u2", "u3", "u4", "u5", "u6", "u7"])
    assert {c: (s.version, s.state) for c, s in states.items()} == {
        "u1": (1, b"u1"),
        "u2": (1, b"v1"),
        "u3": (2, b"v2"),
        "u4": (1, b"v1"),
        "u5": (1, b"u5"),
        "u7": (1, b"u7"),
    }
    assert store.next_events(ws, ["u1", "u7"], limit=5) == []
    assert [t.run for t in store.timers(ws, "u1")] == ["r"]
    shared, taken = store.outbox_entry(ws, "shared"), store.outbox_entry(ws, "taken")
    assert shared is not None and (shared.customer, shared.body) == ("u5", b"5")
    assert taken is not None and (taken.customer, taken.body) == ("u4", b"")


def test_two_steps_of_one_customer_in_a_batch_are_written_in_their_order(store: SqlStore) -> None:
    store.create_workspace(SETWISE, at=1.0)
    results = store.commit_steps(
        [
            Step(SETWISE, "u1", 0, b"first", AT),
            Step(SETWISE, "u2", 0, b"u2", AT),
            Step(SETWISE, "u1", 1, b"second", AT),
        ]
    )
    assert results == [1, 1, 2]
    assert store.load_state(SETWISE, "u1") == StoredState("u1", 2, b"second")


CONFLICTS = {
    # name: (steps that conflict, placed between two good ones; the error each gets, None for none)
    "a stale version": ([Step(SETWISE, "old", 1, b"x", AT)], [VersionConflict]),
    "a state that exists for a step that expected none": (
        [Step(SETWISE, "old", 0, b"x", AT)],
        [VersionConflict],
    ),
    "a state that does not exist for a step that expected one": (
        [Step(SETWISE, "new", 3, b"x", AT)],
        [VersionConflict],
    ),
    "an input event processed already": (
        [Step(SETWISE, "done", 1, b"x", AT, processed=[-1])],
        [EventsAlreadyProcessed],
    ),
    "an outbox key stored already": (
        [Step(SETWISE, "new", 0, b"x", AT, outbox=[OutboxEntry("taken", "send", b"")])],
        [DuplicateCommand],
    ),
    "an outbox key two steps of the batch share": (
        [
            Step(SETWISE, "new", 0, b"x", AT, outbox=[OutboxEntry("shared", "send", b"")]),
            Step(SETWISE, "new2", 0, b"x", AT, outbox=[OutboxEntry("shared", "send", b"")]),
        ],
        [None, DuplicateCommand],
    ),
}


@pytest.mark.parametrize("case", list(CONFLICTS))
def test_each_check_of_a_set_wise_batch_finds_its_conflict(
    store: SqlStore, calls: list[str], case: str
) -> None:
    conflicting, errors = CONFLICTS[case]
    store.create_workspace(SETWISE, at=1.0)
    store.commit_step(Step(SETWISE, "old", 0, b"v1", 10.0, outbox=[OutboxEntry("taken", "send", b"")]))
    store.commit_step(Step(SETWISE, "old", 1, b"v2", 20.0))
    store.append_events(
        SETWISE,
        [_event(SETWISE, "m1", "a-good"), _event(SETWISE, "m2", "done"), _event(SETWISE, "m3", "z-good")],
    )
    seq = {e.customer: e.seq for e in store.next_events(SETWISE, ["a-good", "done", "z-good"], limit=5)}
    store.commit_step(Step(SETWISE, "done", 0, b"v1", 10.0, processed=[seq["done"]]))
    conflicting = [replace(s, processed=[seq["done"]]) if s.processed == [-1] else s for s in conflicting]
    good = [
        Step(
            SETWISE, "a-good", 0, b"a", AT, processed=[seq["a-good"]], outbox=[OutboxEntry("a", "send", b"")]
        ),
        Step(SETWISE, "z-good", 0, b"z", AT, timers=[ScheduleTimer("z-good", "r", 1, 9.0, "wait")]),
    ]
    calls.clear()
    results = store.commit_steps([good[0], *conflicting, good[1]])
    assert "ROLLBACK" in calls
    assert results[0] == 1 and results[-1] == 1
    for result, error in zip(results[1:-1], errors, strict=True):
        assert isinstance(result, error) if error is not None else result == 1, (result, error)
    assert store.next_events(SETWISE, ["a-good"], limit=5) == []
    assert store.outbox_entry(SETWISE, "a") is not None and [
        t.run for t in store.timers(SETWISE, "z-good")
    ] == ["r"]
    failed = [s.customer for s, e in zip(conflicting, errors, strict=True) if e is not None]
    for customer in failed:
        before = {"old": StoredState("old", 2, b"v2"), "done": StoredState("done", 1, b"v1")}
        assert store.load_state(SETWISE, customer) == before.get(customer)
