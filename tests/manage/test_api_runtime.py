"""The management API against a working runtime, over real HTTP on SQLite and PostgreSQL: the publishing
dry run counts the runs waiting at each node, and `POST /journeys/{journey}/start` starts a journey through
the customer's log."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from rumbo.runtime.codec import decode
from rumbo.runtime.intake import iso
from rumbo.runtime.setup import WorkspaceSetups
from rumbo.runtime.worker import Worker
from rumbo.store.base import NewEvent
from tests.manage.conftest import Api, journey_text, serve
from tests.store.conftest import Factory

T0 = 1_772_438_400.0


@pytest.fixture
def any_api(store_factory: Factory) -> Iterator[Api]:
    """The API on SQLite and on PostgreSQL (once each)."""
    yield from serve(store_factory)


def worker_for(api: Api) -> Worker:
    store = api.catalog.store
    setups = WorkspaceSetups(lambda: store)
    return Worker(store, "a", lambda: setups.setup("a"))


def send(api: Api, customer: str, message_id: str, **message: object) -> None:
    body = {"messageId": message_id, "userId": customer, "timestamp": iso(T0), **message}
    api.catalog.store.append_events("a", [NewEvent(message_id, customer, T0, T0, orjson.dumps(body))])


def runs(api: Api, customer: str) -> list[tuple[str, int, str]]:
    stored = api.catalog.store.load_state("a", customer)
    assert stored is not None
    return sorted((r.journey, r.version, r.node) for r in decode(customer, stored.state).runs.values())


def test_the_dry_run_counts_the_runs_at_each_node(any_api: Api) -> None:
    worker = worker_for(any_api)
    with any_api.client(any_api.a.admin_key) as http:
        assert http.post("/journeys", json={"document": journey_text()}).status_code == 201
        assert http.post("/journeys/welcome/publish", json={}).status_code == 200
        for i in range(3):
            send(any_api, f"c{i}", f"s{i}", type="track", event="signed_up")
        send(any_api, "c9", "other", type="track", event="browsed")
        worker.run_until_idle(lambda: T0 + 60)
        assert [runs(any_api, f"c{i}") for i in range(3)] == [[("welcome", 1, "wait")]] * 3

        second = (
            journey_text().replace("wait:\n    wait", "pause:\n    wait").replace("next: wait", "next: pause")
        )
        assert http.put("/journeys/welcome/draft", json={"document": second}).status_code == 200
        migrate = http.post(
            "/journeys/welcome/publish",
            json={"in_flight": "migrate", "mapping": {"wait": "pause"}, "dry_run": True},
        )
        assert migrate.status_code == 200, migrate.text
        assert sorted((m["from_node"], m["to_node"], m["runs"]) for m in migrate.json()["plan"]) == [
            ("done", "done", 0),
            ("hello", "hello", 0),
            ("wait", "pause", 3),
        ]
        stop = http.post("/journeys/welcome/publish", json={"in_flight": "stop", "dry_run": True}).json()
        assert {(m["from_node"], m["to_node"], m["runs"]) for m in stop["plan"]} == {
            ("done", "stopped", 0),
            ("hello", "stopped", 0),
            ("wait", "stopped", 3),
        }
        published = http.post(
            "/journeys/welcome/publish", json={"in_flight": "migrate", "mapping": {"wait": "pause"}}
        )
        assert published.status_code == 200 and published.json()["version"] == 2
        worker.run_until_idle(lambda: T0 + 120)
        assert [runs(any_api, f"c{i}") for i in range(3)] == [[("welcome", 2, "pause")]] * 3


CONCIERGE = """
journey: concierge
entry: [{api: true}]
nodes:
  note: {update: {set: {concierge: "=event.properties.reason"}}, next: wait}
  wait: {wait: {for: 1d}, next: done}
  done: {exit: {}}
"""


def test_a_journey_started_by_api_runs_once_per_start(any_api: Api) -> None:
    worker = worker_for(any_api)
    send(any_api, "ana", "i1", type="identify", traits={"email": "ana@example.com"})
    worker.run_until_idle(lambda: T0)
    with any_api.client(any_api.a.admin_key) as http:
        assert http.post("/journeys", json={"document": CONCIERGE}).status_code == 201
        assert http.post("/journeys/concierge/publish", json={}).status_code == 200
        start = {"customer": "ana", "properties": {"reason": "complaint"}, "messageId": "ticket-7"}
        first = http.post("/journeys/concierge/start", json=start)
        assert first.status_code == 202, first.text
        assert first.json() == {
            "journey": "concierge",
            "customer": "ana",
            "messageId": "start:ticket-7",
            "new": True,
        }
        again = http.post("/journeys/concierge/start", json=start)
        assert again.status_code == 202 and again.json()["new"] is False
        worker.run_until_idle(lambda: T0 + 60)
        assert runs(any_api, "ana") == [("concierge", 1, "wait")]
        stored = any_api.catalog.store.load_state("a", "ana")
        assert stored is not None and decode("ana", stored.state).traits["concierge"] == "complaint"

        unknown = http.post("/journeys/concierge/start", json={"customer": "nobody"})
        assert unknown.status_code == 404 and "nobody" in unknown.json()["error"]
        assert http.post("/journeys/missing/start", json={"customer": "ana"}).status_code == 404
        assert http.post("/journeys/concierge/start", json={"customer": "ana", "who": 1}).status_code == 422
        assert http.post("/journeys", json={"document": journey_text()}).status_code == 201
        assert http.post("/journeys/welcome/publish", json={}).status_code == 200
        no_entry = http.post("/journeys/welcome/start", json={"customer": "ana"})
        assert no_entry.status_code == 409 and "api: true" in no_entry.json()["error"]
        assert http.post("/journeys/concierge/pause").status_code == 200
        paused = http.post("/journeys/concierge/start", json={"customer": "ana"})
        assert paused.status_code == 409 and "resume it" in paused.json()["error"]
    with any_api.client(any_api.a.write_key) as http:
        assert http.post("/journeys/concierge/start", json={"customer": "ana"}).status_code == 403
    with any_api.client(any_api.b.admin_key) as http:  # another workspace sees neither journey nor customer
        assert http.post("/journeys/concierge/start", json={"customer": "ana"}).status_code == 404
