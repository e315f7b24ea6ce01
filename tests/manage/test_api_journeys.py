"""The journey lifecycle over real HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.manage.conftest import Api, journey_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "journeys"


def test_journey_lifecycle(any_api: Api) -> None:
    with any_api.client(any_api.a.admin_key) as http:
        created = http.post("/journeys", json={"document": journey_text()})
        assert created.status_code == 201, created.text
        assert created.json()["state"] == "draft" and created.headers["ETag"] == '"1"'
        assert http.post("/journeys/welcome/validate").json() == {
            "journey": "welcome",
            "draft_revision": 1,
            "valid": True,
            "problems": [],
        }
        first = http.post("/journeys/welcome/publish", json={}, headers={"If-Match": '"1"'})
        assert first.status_code == 200, first.text
        assert first.json() == {
            "journey": "welcome",
            "published": True,
            "version": 1,
            "in_flight": "drain",
            "mapping": {},
            "plan": [],
        }
        # A second draft renames node `wait` to `pause`; migrating maps the runs waiting there.
        second = (
            journey_text(priority=60)
            .replace("wait:\n    wait", "pause:\n    wait")
            .replace("next: wait", "next: pause")
        )
        updated = http.put("/journeys/welcome/draft", json={"document": second}, headers={"If-Match": '"1"'})
        assert updated.status_code == 200 and updated.json()["draft_revision"] == 2
        choice = {"in_flight": "migrate", "mapping": {"wait": "pause"}}
        dry = http.post("/journeys/welcome/publish", json={**choice, "dry_run": True})
        assert dry.status_code == 200, dry.text
        assert dry.json()["published"] is False and dry.json()["version"] == 2
        assert {(m["from_node"], m["to_node"]) for m in dry.json()["plan"]} == {
            ("hello", "hello"),
            ("wait", "pause"),
            ("done", "done"),
        }
        assert http.get("/journeys/welcome").json()["latest_version"] == 1  # the dry run published nothing
        stale = http.post("/journeys/welcome/publish", json=choice, headers={"If-Match": '"1"'})
        assert stale.status_code == 409 and "changed meanwhile" in stale.json()["error"]
        published = http.post("/journeys/welcome/publish", json={**choice, "expected_revision": 2})
        assert published.status_code == 200 and published.json()["version"] == 2
        versions = http.get("/journeys/welcome/versions").json()
        assert [(v["version"], v["in_flight"], v["mapping"]) for v in versions["items"]] == [
            (1, "drain", {}),
            (2, "migrate", {"wait": "pause"}),
        ]
        assert versions["next_offset"] is None
        assert http.get("/journeys/welcome/versions/2").json()["document"] == second
        diff = http.get("/journeys/welcome/diff", params={"from": "1", "to": "2"}).json()["diff"]
        assert "-priority: 50\n+priority: 60\n" in diff and "+  pause:\n" in diff
        for action, state in (
            ("pause", "paused"),
            ("resume", "live"),
            ("stop", "stopped"),
            ("archive", "archived"),
        ):
            answer = http.post(f"/journeys/welcome/{action}")
            assert answer.status_code == 200 and answer.json()["state"] == state, answer.text
        again = http.post("/journeys/welcome/pause")
        assert again.status_code == 409
        assert again.json()["error"] == (
            "cannot pause journey 'welcome': it is archived; pause applies to a journey that is live"
        )
    assert any_api.catalog.published("a") == []  # archived: no longer for workers


def test_an_invalid_draft_is_saved_but_not_published(api: Api) -> None:
    broken = (
        journey_text()
        .replace("next: wait", "next: wiat")
        .replace("entry: {event: signed_up}", "entry: {event: signed_upp}")
    )
    with api.client(api.a.admin_key) as http:
        assert http.post("/journeys", json={"document": broken}).status_code == 201
        report = http.post("/journeys/welcome/validate").json()
        assert report["valid"] is False
        problems = {(p["path"], p["line"]) for p in report["problems"]}
        assert ("$.entry.event", 5) in problems and ("$.nodes.hello.next", 9) in problems
        hints = {p["hint"] for p in report["problems"]}
        assert "did you mean 'signed_up'?" in hints and "did you mean 'wait'?" in hints
        refused = http.post("/journeys/welcome/publish", json={})
        assert refused.status_code == 422
        assert refused.json()["error"] == "journey 'welcome' has problems and was not published"
        assert {p["path"] for p in refused.json()["problems"]} == {p for p, _ in problems}
        assert http.get("/journeys/welcome").json()["latest_version"] == 0


def test_documents_that_do_not_parse_or_do_not_fit_are_refused_with_paths(api: Api) -> None:
    with api.client(api.a.admin_key) as http:
        bad_yaml = http.post("/journeys", json={"document": "journey: [x\nnodes: {"})
        assert bad_yaml.status_code == 422
        assert bad_yaml.json()["problems"][0]["path"] == "$" and bad_yaml.json()["problems"][0]["line"] == 2
        nameless = http.post("/journeys", json={"document": "nodes: {}\n"})
        assert nameless.status_code == 422 and nameless.json()["problems"][0]["path"] == "$.journey"
        assert http.post("/journeys", json={"document": journey_text()}).status_code == 201
        duplicate = http.post("/journeys", json={"document": journey_text()})
        assert duplicate.status_code == 409 and "already exists" in duplicate.json()["error"]
        other = http.put("/journeys/welcome/draft", json={"document": journey_text("other")})
        assert other.status_code == 422 and other.json()["problems"][0]["path"] == "$.journey"
        missing = http.get("/journeys/nope")
        assert missing.status_code == 404
        assert missing.json()["error"] == "journey 'nope' not found in workspace 'a'"
        bad_mapping = http.post(
            "/journeys/welcome/publish", json={"in_flight": "drain", "mapping": {"a": "b"}}
        )
        assert bad_mapping.status_code == 422 and bad_mapping.json()["problems"][0]["path"] == "$.mapping"
        no_draft_diff = http.get("/journeys/welcome/diff", params={"from": "1", "to": "draft"})
        assert no_draft_diff.status_code == 404 and "no version 1" in no_draft_diff.json()["error"]


def test_validation_uses_the_workspace_catalogue(api: Api) -> None:
    """A journey that relies on the workspace's tracking plan and segments validates only where they exist."""
    text = (
        "journey: vip-hello\n"
        "entry: {segment: vip}\n"
        "goal: {event: order_completed, within: 7d, value: event.properties.revenue}\n"
        "nodes:\n  hello:\n    send: {channel: email, template: t}\n    next: done\n  done:\n    exit: {}\n"
    )
    plan = {
        "events": {
            "order_completed": {
                "mode": "warn",
                "schema": {"properties": {"properties": {"properties": {"revenue": {"type": "number"}}}}},
            }
        }
    }
    with api.client(api.a.admin_key) as http:
        assert http.post("/journeys", json={"document": text}).status_code == 201
        before = {p["message"] for p in http.post("/journeys/vip-hello/validate").json()["problems"]}
        assert before == {"event 'order_completed' is not declared", "segment 'vip' is not known"}
        assert http.put("/tracking-plan", json={"document": plan}).status_code == 200
        assert http.put("/segments/vip", json={"rule": "profile.traits.plan == 'pro'"}).status_code == 201
        assert http.post("/journeys/vip-hello/validate").json()["valid"] is True
    with api.client(api.b.admin_key) as http:  # workspace b has neither
        assert http.post("/journeys", json={"document": text}).status_code == 201
        assert http.post("/journeys/vip-hello/validate").json()["valid"] is False


def test_every_example_journey_publishes(api: Api) -> None:
    """Journeys may start one another, so one that names a journey the workspace lacks is refused."""
    with api.client(api.a.admin_key) as http:
        names = []
        for path in sorted(EXAMPLES.glob("*.yaml")):
            created = http.post("/journeys", json={"document": path.read_text()})
            assert created.status_code == 201, created.text
            names.append(created.json()["journey"])
            if names[-1] == "survey-follow-up":  # starts vip-referral, which comes after it
                refused = http.post("/journeys/survey-follow-up/publish", json={}).json()
                assert refused["problems"][0]["message"] == "there is no journey 'vip-referral'"
        for name in names:
            published = http.post(f"/journeys/{name}/publish", json={})
            assert published.status_code == 200, published.text
        listed = http.get("/journeys", params={"limit": 5}).json()
        assert len(listed["items"]) == 5 and listed["next_offset"] == 5
        rest = http.get("/journeys", params={"limit": 5, "offset": 5}).json()
        assert len(rest["items"]) == 3 and rest["next_offset"] is None
    assert len(api.catalog.published("a")) == 8
