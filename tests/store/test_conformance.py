"""One suite, every store: SQLite and PostgreSQL must behave the same, so the two cannot drift."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Sequence

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rumbo.engine.commands import CancelTimer, ScheduleTimer
from rumbo.records import Decision, Record, Transition
from rumbo.store import DueTimer, KeyMatch, NewEvent, OutboxEntry, Step, StoredEvent, StoredState
from rumbo.store.errors import (
    DuplicateCommand,
    EventsAlreadyProcessed,
    OutboxNotPending,
    SchemaOutOfDate,
    SchemaTooNew,
    StoreConflict,
    VersionConflict,
    WorkspaceExists,
)
from rumbo.store.migrations import latest
from rumbo.store.sql import SqlStore

Factory = Callable[[], SqlStore]
WS = "acme"
OTHER = "globex"


def ev(message_id: str, customer: str = "u1", at: float = 100.0) -> NewEvent:
    body = orjson.dumps({"messageId": message_id, "type": "track", "event": "x"})
    return NewEvent(message_id, customer, at, at + 1.0, body)


def step(
    customer: str = "u1",
    expected: int = 0,
    state: bytes = b"s1",
    at: float = 500.0,
    processed: Sequence[int] = (),
    timers: Sequence[ScheduleTimer] = (),
    cancelled_timers: Sequence[CancelTimer] = (),
    outbox: Sequence[OutboxEntry] = (),
    records: Sequence[Record] = (),
) -> Step:
    return Step(WS, customer, expected, state, at, processed, timers, cancelled_timers, outbox, records)


def timer(run: str, token: int, at: float, customer: str = "u1") -> ScheduleTimer:
    return ScheduleTimer(customer, run, token, at, "wait")


def ids(events: list[StoredEvent]) -> list[str]:
    return [e.message_id for e in events]


# --- schema -----------------------------------------------------------------------------------------


def test_upgrade_creates_the_schema_once_and_is_safe_to_repeat(store_factory: Factory) -> None:
    store = store_factory()
    assert store.schema_version() == 0
    assert store.upgrade() == latest("sqlite") == latest("postgres")
    assert store.upgrade() == latest("sqlite")
    assert store_factory().upgrade() == latest("sqlite")  # another connection sees it done
    assert store.schema_version() == latest("sqlite")
    assert store.workspaces() == []


def test_a_store_used_before_upgrade_says_to_run_the_upgrade(store_factory: Factory) -> None:
    with pytest.raises(SchemaOutOfDate, match="rumbo db upgrade"):
        store_factory().workspaces()


def test_a_schema_newer_than_this_rumbo_is_refused(store: SqlStore) -> None:
    with store._write() as tx:
        tx.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (7, 'future', 0)")
    with pytest.raises(SchemaTooNew, match="version 7"):
        store.upgrade()


# --- workspaces and keys ----------------------------------------------------------------------------


def test_keys_find_their_workspace_and_role_and_are_stored_only_hashed(store: SqlStore) -> None:
    keys = store.create_workspace(WS, at=1.0)
    other = store.create_workspace(OTHER, at=2.0)
    assert keys.write_key.startswith("rw_") and keys.admin_key.startswith("ra_")
    assert len({keys.write_key, keys.admin_key, other.write_key, other.admin_key}) == 4
    assert store.find_key(keys.write_key) == KeyMatch(WS, "write")
    assert store.find_key(keys.admin_key) == KeyMatch(WS, "admin")
    assert store.find_key(other.write_key) == KeyMatch(OTHER, "write")
    assert store.find_key("rw_not-a-key") is None
    assert store.workspaces() == [WS, OTHER]
    stored = store._query("SELECT key_hash FROM api_keys WHERE workspace = ? ORDER BY role", (WS,))
    expected = sorted(hashlib.sha256(k.encode()).hexdigest() for k in (keys.admin_key, keys.write_key))
    assert sorted(row[0] for row in stored) == expected


def test_a_workspace_id_is_taken_once(store: SqlStore) -> None:
    keys = store.create_workspace(WS, at=1.0)
    with pytest.raises(WorkspaceExists, match="acme"):
        store.create_workspace(WS, at=2.0)
    assert store.find_key(keys.write_key) == KeyMatch(WS, "write")  # the first keys still work


# --- the event log ----------------------------------------------------------------------------------


def test_append_reports_which_events_were_new_and_stores_each_once(store: SqlStore) -> None:
    assert store.append_events(WS, [ev("a"), ev("b")]) == [True, True]
    assert store.append_events(WS, [ev("b"), ev("c"), ev("c")]) == [False, True, False]
    assert store.append_events(WS, []) == []
    events = store.next_events(WS, ["u1"], limit=10)
    assert ids(events) == ["a", "b", "c"]
    assert orjson.loads(events[2].body) == {"messageId": "c", "type": "track", "event": "x"}
    assert (events[0].at, events[0].received_at) == (100.0, 101.0)


_batches = st.lists(
    st.lists(st.tuples(st.integers(0, 14), st.integers(0, 3)), max_size=12), min_size=1, max_size=5
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_batches)
def test_no_event_is_lost_or_stored_twice_and_each_customer_keeps_its_order(
    store: SqlStore, batches: list[list[tuple[int, int]]]
) -> None:
    workspace = f"ws-{uuid.uuid4().hex}"  # a workspace per example: the store is shared between examples
    seen: set[str] = set()
    expected: dict[str, list[str]] = {}
    for batch in batches:
        events = [ev(f"m{m}", f"u{c}") for m, c in batch]
        want = []
        for e in events:
            want.append(e.message_id not in seen)
            if e.message_id not in seen:
                seen.add(e.message_id)
                expected.setdefault(e.customer, []).append(e.message_id)
        assert store.append_events(workspace, events) == want
    stored = store.next_events(workspace, [f"u{c}" for c in range(4)], limit=100)
    got: dict[str, list[str]] = {}
    for s in stored:
        got.setdefault(s.customer, []).append(s.message_id)
    assert got == expected


def test_a_large_batch_is_deduplicated_across_its_whole_length(store: SqlStore) -> None:
    batch = [ev(f"m{i}") for i in range(1200)]
    first_copy = NewEvent("m0", "u1", 1.0, 1.0, b"first copy")
    store.append_events(WS, [first_copy])
    # Repeats of m0 (already stored) and of m5 (earlier in this batch) sit in later chunks of the insert.
    batch[700] = ev("m5")
    batch[1100] = NewEvent("m0", "u1", 2.0, 2.0, b"second copy")
    flags = store.append_events(WS, batch)
    assert [i for i, new in enumerate(flags) if not new] == [0, 700, 1100]
    stored = store.next_events(WS, ["u1"], limit=5000)
    assert len(stored) == 1 + 1200 - 3
    assert stored[0].body == b"first copy"
    inside = [NewEvent("dup", "u1", 1.0, 1.0, b"one"), NewEvent("dup", "u1", 1.0, 1.0, b"two")]
    assert store.append_events(WS, inside) == [True, False]
    assert store.next_events(WS, ["u1"], limit=5000)[-1].body == b"one"


def test_events_come_back_in_per_customer_order_and_per_customer_limit(store: SqlStore) -> None:
    store.append_events(WS, [ev("u1-1", "u1"), ev("u2-1", "u2"), ev("u1-2", "u1")])
    store.append_events(WS, [ev("u3-1", "u3"), ev("u2-2", "u2"), ev("u1-3", "u1")])
    store.append_events(WS, [ev("u2-3", "u2", at=1.0)])  # earlier event time, later in the log
    assert store.pending_customers(WS, limit=10) == ["u1", "u2", "u3"]
    assert store.pending_customers(WS, limit=2) == ["u1", "u2"]
    events = store.next_events(WS, {"u1", "u2"}, limit=10)
    assert [e.message_id for e in events if e.customer == "u1"] == ["u1-1", "u1-2", "u1-3"]
    assert [e.message_id for e in events if e.customer == "u2"] == ["u2-1", "u2-2", "u2-3"]
    assert sorted(e.seq for e in events) == [e.seq for e in events]
    assert ids(store.next_events(WS, ["u1", "u2", "u3"], limit=1)) == ["u1-1", "u2-1", "u3-1"]
    assert store.next_events(WS, [], limit=5) == []


def test_pending_events_are_next_events_of_the_longest_waiting_customers(store: SqlStore) -> None:
    store.append_events(WS, [ev("u2-1", "u2"), ev("u1-1", "u1"), ev("u2-2", "u2"), ev("u3-1", "u3")])
    store.append_events(WS, [ev("u1-2", "u1"), ev("u2-3", "u2"), ev("u4-1", "u4"), ev("u2-4", "u2")])
    # u2 has more than the limit: it is cut to its first events, the others come whole.
    for customers, limit in ((10, 10), (10, 2), (2, 2), (3, 1), (1, 5)):
        expected = store.next_events(WS, store.pending_customers(WS, limit=customers), limit=limit)
        assert store.pending_events(WS, customers=customers, limit=limit) == expected, (customers, limit)
    assert ids(store.pending_events(WS, customers=3, limit=2)) == ["u2-1", "u1-1", "u2-2", "u3-1", "u1-2"]
    store.commit_step(step(customer="u2", processed=[e.seq for e in store.next_events(WS, ["u2"], limit=9)]))
    assert ids(store.pending_events(WS, customers=1, limit=5)) == ["u1-1", "u1-2"]
    assert store.pending_events(OTHER, customers=5, limit=5) == []


def test_processed_events_are_not_handed_out_again(store: SqlStore) -> None:
    store.append_events(WS, [ev("a"), ev("b"), ev("c"), ev("z", "u2")])
    first_two = store.next_events(WS, ["u1"], limit=2)
    store.commit_step(step(processed=[e.seq for e in first_two]))
    assert ids(store.next_events(WS, ["u1", "u2"], limit=10)) == ["c", "z"]
    assert store.pending_customers(WS, limit=10) == ["u1", "u2"]
    # A processed messageId stays a duplicate: an acknowledged event is never processed twice.
    assert store.append_events(WS, [ev("a")]) == [False]


def test_a_reader_never_sees_a_customers_later_event_before_an_earlier_one(
    store: SqlStore, store_factory: Factory
) -> None:
    first_writer, second_writer = store_factory(), store_factory()
    second_done = threading.Event()

    def append_second() -> None:
        second_writer.append_events(WS, [ev("second")])
        second_done.set()

    # The first append draws its seq and is still uncommitted when the second one starts.
    with first_writer._write() as tx:
        assert first_writer._append(tx, WS, [ev("first")]) == [True]
        thread = threading.Thread(target=append_second)
        thread.start()
        # Were the second append to commit now, a worker would process "second" before "first".
        assert not second_done.wait(0.5)
        assert store.next_events(WS, ["u1"], limit=10) == []
    thread.join(timeout=10)
    assert second_done.is_set()
    assert ids(store.next_events(WS, ["u1"], limit=10)) == ["first", "second"]


# --- customer state and commit_step -----------------------------------------------------------------


def test_commit_step_writes_state_events_timers_outbox_and_records_together(store: SqlStore) -> None:
    store.append_events(WS, [ev("m1"), ev("m2")])
    seqs = [e.seq for e in store.next_events(WS, ["u1"], limit=10)]
    transition = Transition(WS, "u1", "cart", 3, "r1", None, "start", "entered", "m1", 400.0, "A")
    decision = Decision(
        WS, "u1", "cart", 3, "r1", "offer", (("d10", 0.25), ("ship", 0.75)), "ship", "ts", 401.0
    )
    version = store.commit_step(
        step(
            state=b"\x00state-1",
            processed=seqs,
            timers=[timer("r1", 1, 900.0), timer("r1", 2, 950.0)],
            outbox=[OutboxEntry("cart:3:email:u1:m1", "send", b'{"template":"t"}')],
            records=[transition, decision],
        )
    )
    assert version == 1
    saved = store.load_state(WS, "u1")
    assert saved is not None and (saved.version, saved.state) == (1, b"\x00state-1")
    assert store.next_events(WS, ["u1"], limit=10) == []
    assert [(t.run, t.token, t.at, t.kind, t.claimed_until) for t in store.timers(WS, "u1")] == [
        ("r1", 1, 900.0, "wait", None),
        ("r1", 2, 950.0, "wait", None),
    ]
    entry = store.outbox_entry(WS, "cart:3:email:u1:m1")
    assert entry is not None
    assert (entry.customer, entry.kind, entry.body, entry.status, entry.attempts) == (
        "u1",
        "send",
        b'{"template":"t"}',
        "pending",
        0,
    )
    records = store.records(WS, "u1")
    assert [(r.kind, r.at) for r in records] == [("transition", 400.0), ("decision", 401.0)]
    assert records[0].data == {
        "workspace": WS,
        "customer": "u1",
        "journey": "cart",
        "version": 3,
        "run": "r1",
        "from_node": None,
        "to_node": "start",
        "cause": "entered",
        "input": "m1",
        "at": 400.0,
        "variant": "A",
        "since": None,
    }
    assert records[1].data["candidates"] == [
        {"offer": "d10", "score": 0.25},
        {"offer": "ship", "score": 0.75},
    ]

    # The next step moves the version on, cancels one timer and reschedules the other.
    version = store.commit_step(
        step(
            expected=1,
            state=b"state-2",
            cancelled_timers=[CancelTimer("u1", "r1", 1)],
            timers=[timer("r1", 2, 990.0)],
        )
    )
    assert version == 2
    assert store.load_state(WS, "u1") == StoredState("u1", 2, b"state-2")
    assert [(t.token, t.at) for t in store.timers(WS, "u1")] == [(2, 990.0)]


def test_a_stale_version_is_refused_and_writes_nothing(store: SqlStore) -> None:
    store.commit_step(step(state=b"v1"))
    store.append_events(WS, [ev("m1")])
    seq = store.next_events(WS, ["u1"], limit=1)[0].seq
    store.commit_step(step(expected=1, state=b"v2-winner"))
    with pytest.raises(VersionConflict) as raised:
        store.commit_step(
            step(
                expected=1,
                state=b"v2-loser",
                processed=[seq],
                timers=[timer("r9", 1, 1.0)],
                outbox=[OutboxEntry("k-loser", "send", b"")],
                records=[Transition(WS, "u1", "j", 1, "r9", None, "a", "entered", "m1", 1.0)],
            )
        )
    assert (raised.value.expected, raised.value.found) == (1, 2)
    assert store.load_state(WS, "u1") == StoredState("u1", 2, b"v2-winner")
    assert ids(store.next_events(WS, ["u1"], limit=5)) == ["m1"]
    assert store.timers(WS, "u1") == []
    assert store.outbox_entry(WS, "k-loser") is None
    assert store.records(WS, "u1") == []
    with pytest.raises(VersionConflict):
        store.commit_step(step(expected=0, state=b"as-if-new"))  # state exists: 0 is stale too


def test_a_failure_inside_commit_step_leaves_nothing_half_written(store: SqlStore) -> None:
    store.append_events(WS, [ev("m1"), ev("m2")])
    first, second = store.next_events(WS, ["u1"], limit=5)
    store.commit_step(
        step(
            state=b"before",
            processed=[first.seq],
            timers=[timer("r1", 1, 50.0)],
            outbox=[OutboxEntry("k1", "send", b"1")],
        )
    )
    before = (store.load_state(WS, "u1"), store.timers(WS, "u1"), store.records(WS, "u1"))

    # State, the event, timers and records are written before the outbox insert hits the duplicate key.
    with pytest.raises(DuplicateCommand, match="k1"):
        store.commit_step(
            step(
                expected=1,
                state=b"after",
                processed=[second.seq],
                cancelled_timers=[CancelTimer("u1", "r1", 1)],
                timers=[timer("r2", 1, 60.0)],
                records=[Transition(WS, "u1", "j", 1, "r2", None, "a", "entered", "m2", 2.0)],
                outbox=[OutboxEntry("k2", "send", b"2"), OutboxEntry("k1", "send", b"again")],
            )
        )
    assert (store.load_state(WS, "u1"), store.timers(WS, "u1"), store.records(WS, "u1")) == before
    assert ids(store.next_events(WS, ["u1"], limit=5)) == ["m2"]
    assert store.outbox_entry(WS, "k2") is None
    k1 = store.outbox_entry(WS, "k1")
    assert k1 is not None and k1.body == b"1"

    # An input event that is already processed also aborts the whole step.
    with pytest.raises(EventsAlreadyProcessed):
        store.commit_step(step(expected=1, state=b"after", processed=[first.seq, second.seq]))
    assert store.load_state(WS, "u1") == before[0]
    assert ids(store.next_events(WS, ["u1"], limit=5)) == ["m2"]


def test_commit_steps_commits_a_batch_at_once_and_leaves_out_only_the_conflicting_steps(
    store: SqlStore,
) -> None:
    store.commit_step(step(customer="u2", state=b"u2-v1", outbox=[OutboxEntry("taken", "send", b"")]))
    store.append_events(WS, [ev("m1", "u1"), ev("m2", "u2"), ev("m3", "u3")])
    seq = {e.customer: e.seq for e in store.next_events(WS, ["u1", "u2", "u3"], limit=5)}
    results = store.commit_steps(
        [
            step(customer="u1", state=b"u1-v1", processed=[seq["u1"]], timers=[timer("r1", 1, 9.0, "u1")]),
            # u2 is at version 1, not 0: stale.
            step(customer="u2", state=b"stale", processed=[seq["u2"]]),
            # u3 gets as far as its state, event and timer before the duplicate key stops it.
            step(
                customer="u3",
                state=b"u3-v1",
                processed=[seq["u3"]],
                timers=[timer("r3", 1, 9.0, "u3")],
                outbox=[OutboxEntry("taken", "send", b"")],
            ),
            step(customer="u1", expected=1, state=b"u1-v2", outbox=[OutboxEntry("u1-2", "send", b"")]),
        ]
    )
    assert results[0] == 1 and results[3] == 2
    assert isinstance(results[1], VersionConflict) and isinstance(results[2], DuplicateCommand)
    assert store.load_state(WS, "u1") == StoredState("u1", 2, b"u1-v2")
    assert store.load_state(WS, "u2") == StoredState("u2", 1, b"u2-v1")
    assert store.load_state(WS, "u3") is None
    assert ids(store.next_events(WS, ["u1", "u2", "u3"], limit=5)) == ["m2", "m3"]
    assert [t.run for t in store.timers(WS, "u1")] == ["r1"] and store.timers(WS, "u3") == []
    assert store.outbox_entry(WS, "u1-2") is not None
    assert store.commit_steps([]) == []


def test_two_batches_sharing_customers_in_opposite_orders_finish_without_deadlock(
    store: SqlStore, store_factory: Factory
) -> None:
    customers = [f"c{i}" for i in range(10)]
    store.commit_steps([step(customer=c, state=b"v1") for c in customers])
    results: dict[str, list[int | StoreConflict]] = {}
    barrier = threading.Barrier(2)

    def commit(name: str, order: list[str]) -> None:
        worker = store_factory()
        barrier.wait()
        results[name] = worker.commit_steps(
            [step(customer=c, expected=1, state=name.encode()) for c in order]
        )

    threads = [
        threading.Thread(target=commit, args=("up", customers)),
        threading.Thread(target=commit, args=("down", customers[::-1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    up = dict(zip(customers, results["up"], strict=True))
    down = dict(zip(customers[::-1], results["down"], strict=True))
    for c in customers:
        outcomes = {"up": up[c], "down": down[c]}
        winners = [name for name, result in outcomes.items() if result == 2]
        losers = [name for name, result in outcomes.items() if isinstance(result, VersionConflict)]
        assert len(winners) == 1 and len(losers) == 1, (c, outcomes)
        assert store.load_state(WS, c) == StoredState(c, 2, winners[0].encode())


def test_two_connections_racing_on_one_version_commit_exactly_once(
    store: SqlStore, store_factory: Factory
) -> None:
    store.commit_step(step(state=b"v1"))
    rivals = [store_factory(), store_factory()]
    for round_ in range(5):
        expected = 1 + round_
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def attempt(
            rival: SqlStore,
            name: str,
            expected: int = expected,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                rival.commit_step(
                    step(
                        expected=expected,
                        state=name.encode(),
                        outbox=[OutboxEntry(f"{name}-{expected}", "send", b"")],
                    )
                )
                outcomes.append("won")
            except VersionConflict:
                outcomes.append("lost")

        threads = [threading.Thread(target=attempt, args=(r, f"r{i}")) for i, r in enumerate(rivals)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["lost", "won"]
        saved = store.load_state(WS, "u1")
        assert saved is not None and saved.version == expected + 1
        winners = [n for n in ("r0", "r1") if store.outbox_entry(WS, f"{n}-{expected}") is not None]
        assert winners == [saved.state.decode()]


# --- timers -----------------------------------------------------------------------------------------


def test_due_timers_are_claimed_for_a_lease_and_come_back_when_it_ends(store: SqlStore) -> None:
    store.commit_step(step(timers=[timer("r1", 1, 10.0), timer("r2", 1, 30.0), timer("r3", 1, 20.0)]))
    claimed = store.claim_due_timers(WS, 25.0, limit=10, lease=60.0)
    assert [(t.run, t.at, t.claimed_until) for t in claimed] == [("r1", 10.0, 85.0), ("r3", 20.0, 85.0)]
    assert store.claim_due_timers(WS, 40.0, limit=10, lease=60.0) == [
        DueTimer("u1", "r2", 1, 30.0, "wait", 100.0)
    ]
    assert store.claim_due_timers(WS, 84.0, limit=10, lease=60.0) == []
    # The claimer died: after the lease the timers are due again; firing one deletes it for good.
    again = store.claim_due_timers(WS, 85.0, limit=1, lease=60.0)
    assert [t.run for t in again] == ["r1"]
    store.commit_step(step(expected=1, cancelled_timers=[CancelTimer("u1", "r1", 1)]))
    assert [t.run for t in store.claim_due_timers(WS, 1000.0, limit=10, lease=60.0)] == ["r3", "r2"]


def test_two_connections_claiming_timers_never_get_the_same_one(
    store: SqlStore, store_factory: Factory
) -> None:
    for c in range(20):
        store.commit_step(
            step(customer=f"c{c}", timers=[timer(f"r{k}", k, float(k), f"c{c}") for k in range(10)])
        )
    claims: dict[str, list[tuple[str, str, int]]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim(name: str) -> None:
        mine = store_factory()
        start.wait()
        while batch := mine.claim_due_timers(WS, 100.0, limit=7, lease=1000.0):
            claims[name].extend((t.customer, t.run, t.token) for t in batch)

    threads = [threading.Thread(target=claim, args=(n,)) for n in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = set(claims["a"]), set(claims["b"])
    assert len(claims["a"]) == len(a) and len(claims["b"]) == len(b)
    assert a.isdisjoint(b)
    assert a | b == {(f"c{c}", f"r{k}", k) for c in range(20) for k in range(10)}


# --- the outbox -------------------------------------------------------------------------------------


def test_outbox_entries_are_claimed_then_sent_retried_or_given_up(store: SqlStore) -> None:
    entries = [OutboxEntry(k, "send", k.encode()) for k in ("k1", "k2", "k3")]
    store.commit_step(step(outbox=entries, at=10.0))
    claimed = store.claim_outbox(WS, 10.0, limit=10, lease=30.0)
    assert sorted(o.key for o in claimed) == ["k1", "k2", "k3"]
    assert store.claim_outbox(WS, 20.0, limit=10, lease=30.0) == []  # still leased

    store.mark_sent(WS, "k1", at=11.0)
    store.mark_failed(WS, "k2", at=12.0, error="smtp 451", retry_at=100.0)
    store.mark_failed(WS, "k3", at=12.0, error="smtp 550 no such user", retry_at=None)
    k1, k2, k3 = (store.outbox_entry(WS, k) for k in ("k1", "k2", "k3"))
    assert k1 is not None and (k1.status, k1.attempts, k1.last_error) == ("sent", 1, None)
    assert k2 is not None and (k2.status, k2.attempts, k2.due_at, k2.last_error) == (
        "pending",
        1,
        100.0,
        "smtp 451",
    )
    assert k3 is not None and (k3.status, k3.attempts, k3.last_error) == (
        "failed",
        1,
        "smtp 550 no such user",
    )

    assert store.claim_outbox(WS, 99.0, limit=10, lease=30.0) == []  # the retry is not due yet
    assert [o.key for o in store.claim_outbox(WS, 100.0, limit=10, lease=30.0)] == ["k2"]
    store.mark_failed(WS, "k2", at=101.0, error="smtp 451 again", retry_at=None)
    k2 = store.outbox_entry(WS, "k2")
    assert k2 is not None and (k2.status, k2.attempts, k2.last_error) == ("failed", 2, "smtp 451 again")
    for key in ("k1", "k3", "nope"):
        with pytest.raises(OutboxNotPending):
            store.mark_sent(WS, key, at=200.0)


# --- workspace isolation ----------------------------------------------------------------------------


def test_a_workspace_never_sees_another_workspaces_rows(store: SqlStore) -> None:
    store.create_workspace(WS, at=1.0)
    store.create_workspace(OTHER, at=1.0)
    # The same customer id, messageIds, timer and outbox key in both workspaces.
    assert store.append_events(WS, [ev("m1"), ev("m2")]) == [True, True]
    assert store.append_events(OTHER, [ev("m1")]) == [True]
    ours = store.next_events(WS, ["u1"], limit=10)
    theirs = store.next_events(OTHER, ["u1"], limit=10)
    assert ids(ours) == ["m1", "m2"] and ids(theirs) == ["m1"]
    store.commit_step(
        Step(
            WS,
            "u1",
            0,
            b"ours",
            at=5.0,
            processed=[ours[0].seq],
            timers=[timer("r1", 1, 10.0)],
            outbox=[OutboxEntry("k", "send", b"ours")],
            records=[Transition(WS, "u1", "j", 1, "r1", None, "a", "entered", "m1", 5.0)],
        )
    )
    # Another workspace's event seq cannot be consumed through this workspace.
    with pytest.raises(EventsAlreadyProcessed):
        store.commit_step(Step(OTHER, "u1", 0, b"theirs", at=5.0, processed=[ours[1].seq]))
    assert store.load_state(OTHER, "u1") is None
    assert store.timers(OTHER, "u1") == [] and store.claim_due_timers(OTHER, 99.0, limit=9, lease=1.0) == []
    assert (
        store.outbox_entry(OTHER, "k") is None and store.claim_outbox(OTHER, 99.0, limit=9, lease=1.0) == []
    )
    assert store.records(OTHER, "u1") == []
    with pytest.raises(OutboxNotPending):
        store.mark_sent(OTHER, "k", at=6.0)
    assert ids(store.next_events(OTHER, ["u1"], limit=10)) == ["m1"]

    store.commit_step(Step(OTHER, "u1", 0, b"theirs", at=6.0, outbox=[OutboxEntry("k", "send", b"theirs")]))
    saved = store.load_state(WS, "u1")
    assert saved is not None and (saved.version, saved.state) == (1, b"ours")
    entry = store.outbox_entry(WS, "k")
    assert entry is not None and entry.body == b"ours"
    assert [t.run for t in store.claim_due_timers(WS, 99.0, limit=9, lease=1.0)] == ["r1"]
    assert store.pending_customers(WS, limit=5) == ["u1"] and store.pending_customers(OTHER, limit=5) == [
        "u1"
    ]
    assert ids(store.next_events(WS, ["u1"], limit=10)) == ["m2"]
