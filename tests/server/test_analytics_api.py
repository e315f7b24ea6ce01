"""The analytics API on a real server: events sent over HTTP, the worker running the example journeys on a
clock the test moves, the exporter filling the archive, and every endpoint answering what `rumbo analyze
… --format json` prints on the same archive — for the key's workspace alone."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import open_engine
from rumbo.cli.main import main
from rumbo.demo.run import example_journeys
from rumbo.replay.virtual import event_time
from rumbo.runtime.archiver import Archiver
from rumbo.runtime.intake import iso
from rumbo.runtime.service import Service, ServiceConfig
from rumbo.server.app import create_app
from tests.peers import http_server

T0 = 1_772_409_600.0  # 2026-03-02 00:00 UTC, a Monday
HOUR, DAY = 3600.0, 86400.0
MEDIUMS = ("email", "cpc", "social", "sms")


class Clock:
    """The service's clock: timers fire when the test moves it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Platform:
    url: str
    service: Service
    clock: Clock
    keys: dict[str, tuple[str, str]]  # workspace -> (write key, admin key)
    sent: dict[str, list[dict[str, Any]]]  # workspace -> the messages sent

    @property
    def root(self) -> Path:
        assert self.service.archive_root is not None
        return self.service.archive_root

    def send(self, workspace: str, batch: list[dict[str, Any]]) -> None:
        answer = httpx.post(f"{self.url}/v1/batch", json={"batch": batch}, auth=(self.keys[workspace][0], ""))
        assert answer.status_code == 200 and answer.json()["accepted"] == len(batch), answer.text

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the worker has processed every event and fired every timer due on the clock."""
        store = self.service.connect()
        deadline = time.monotonic() + timeout
        try:
            while True:
                pending = store._query("SELECT COUNT(*) FROM events WHERE processed_at IS NULL")[0][0]
                due = store._query("SELECT COUNT(*) FROM timers WHERE due_at <= ?", (self.clock.now,))[0][0]
                if pending == 0 and due == 0:
                    return
                assert time.monotonic() < deadline, f"worker left {pending} events and {due} timers"
                time.sleep(0.02)
        finally:
            store.close()

    def export(self) -> None:
        store = self.service.connect()
        try:
            assert Archiver(store, self.root).export().errors == []
        finally:
            store.close()

    def get(self, workspace: str, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[workspace][1]}"}
        return httpx.get(f"{self.url}/api/v1/analytics/{path}", params=params, headers=headers, timeout=60)


def shop(customers: int, prefix: str, seed: int) -> list[dict[str, Any]]:
    """Customers who look around (through various campaigns) and abandon a cart; three in four of them buy,
    and go on buying while they are still customers (BG/NBD's story: Poisson purchases, and after each one
    a chance of never coming back), so that lifetime value has something to fit."""
    rng = random.Random(seed)
    batch: list[dict[str, Any]] = []
    for i in range(customers):
        user, start = f"{prefix}{i}", T0 + rng.uniform(0, 7) * DAY
        medium = MEDIUMS[i % len(MEDIUMS)]
        batch += [
            {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"},
             "timestamp": iso(start)},
            {"type": "track", "userId": user, "event": "product_viewed", "timestamp": iso(start + 60),
             "context": {"campaign": {"medium": medium, "name": f"spring-{medium}"}}},
            {"type": "track", "userId": user, "event": "cart_abandoned", "timestamp": iso(start + 120),
             "properties": {"value": rng.randint(25, 90), "cart_id": f"cart-{user}"}},
        ]  # fmt: skip
        if rng.random() >= 0.75:
            continue
        rate, dropout, at = rng.gammavariate(1.5, 1 / 20), rng.betavariate(1, 2), start + 2 * HOUR
        for _ in range(15):
            batch.append({"type": "track", "userId": user, "event": "order_completed", "timestamp": iso(at),
                          "properties": {"revenue": round(rng.uniform(15, 80), 2)}})  # fmt: skip
            at += rng.expovariate(rate) * DAY
            if rng.random() < dropout or at > T0 + 50 * DAY:
                break
    return batch


def buyers(batch: list[dict[str, Any]], within: float) -> int:
    """Customers with an order within `within` seconds of their abandoned cart, counted from what was sent."""
    carts = {m["userId"]: m["timestamp"] for m in batch if m.get("event") == "cart_abandoned"}
    seconds = {m["userId"]: [] for m in batch}  # type: dict[str, list[float]]
    for m in batch:
        if m.get("event") == "order_completed":
            seconds[m["userId"]].append(event_time(m) - event_time({"timestamp": carts[m["userId"]]}))
    return sum(1 for gaps in seconds.values() if any(0 <= gap <= within for gap in gaps))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    clock = Clock(T0)
    home = tmp_path_factory.mktemp("analytics") / "data"
    # The exporter runs when the test says, so that CLI and API read one and the same archive.
    config = ServiceConfig(home=home, journeys=[example_journeys()], archive_export=False)
    service = Service(config, clock=clock)
    service.start()
    assert service.created is not None
    other = service.open_store().create_workspace("globex", at=T0)
    keys = {
        "default": (service.created.write_key, service.created.admin_key),
        "globex": (other.write_key, other.admin_key),
    }
    try:
        with http_server(create_app(service)) as url:
            # Seeds whose purchases give BG/NBD a well-posed fit on so few customers.
            sent = {"default": shop(48, "u", seed=4), "globex": shop(8, "g", seed=5)}
            world = Platform(url, service, clock, keys, sent)
            for workspace, batch in sent.items():
                world.send(workspace, batch)
            clock.now = T0 + 90 * DAY  # every wait and timeout of the journeys falls due
            world.settle()
            world.export()
            yield world
    finally:
        service.stop()


def cli_json(archive: Path, command: str, *options: str) -> Any:
    result = CliRunner().invoke(
        main, ["analyze", command, *options, "--archive", str(archive), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return orjson.loads(result.output)


def differences(served: Any, printed: Any, path: str = "$") -> list[str]:
    """Where two answers differ, but for the last bits of floating-point sums, which DuckDB adds up in
    parallel in any order: two runs of the same command differ there too, and a model fitted to such sums
    (Gamma-Gamma's spend) stops a few parts in 10^8 apart."""
    if isinstance(served, dict) and isinstance(printed, dict):
        if served.keys() != printed.keys():
            return [f"{path}: keys {sorted(served)} != {sorted(printed)}"]
        return [d for k in served for d in differences(served[k], printed[k], f"{path}.{k}")]
    if isinstance(served, list) and isinstance(printed, list):
        if len(served) != len(printed):
            return [f"{path}: {len(served)} items != {len(printed)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(served, printed, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    if isinstance(served, float) and isinstance(printed, float):
        return (
            []
            if served == pytest.approx(printed, rel=1e-6, abs=1e-12)
            else [f"{path}: {served} != {printed}"]
        )
    return [] if served == printed else [f"{path}: {served!r} != {printed!r}"]


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("nodes", {"min_runs": 5}, ["--min-runs", "5"]),
    ("experiment", {"journey": "cart-recovery"},
     ["--journey", "cart-recovery", "--journey-file", str(example_journeys())]),
    ("funnel", {"steps": ["product_viewed", "cart_abandoned", "order_completed"], "within": "14d"},
     ["product_viewed", "cart_abandoned", "order_completed", "--within", "14d"]),
    ("paths", {"from": "product_viewed", "to": "order_completed"},
     ["--from", "product_viewed", "--to", "order_completed"]),
    ("paths", {"sankey": "true", "journey": "cart-recovery"}, ["--sankey", "--journey", "cart-recovery"]),
    ("attribution", {"model": "markov", "by": "channel"}, ["--model", "markov", "--by", "channel"]),
    ("attribution", {"model": "linear", "conversion_event": "order_completed", "window": "14d"},
     ["--model", "linear", "--conversion-event", "order_completed", "--window", "14d"]),
    ("clv", {"horizon": "30d"}, ["--horizon", "30d"]),
    ("lifecycle", {"period": "month"}, ["--period", "month"]),
    ("lifecycle", {"cohorts": "true"}, ["--cohorts"]),
]  # fmt: skip


@pytest.mark.parametrize(("command", "params", "options"), CASES)
def test_each_endpoint_answers_what_the_cli_prints_on_the_same_archive(
    platform: Platform, command: str, params: dict[str, Any], options: list[str]
) -> None:
    answer = platform.get("default", command, **params)
    assert answer.status_code == 200, answer.text
    served, printed = answer.json(), cli_json(platform.root / "default", command, *options)
    if command == "clv":  # the one field that says when it ran rather than what it found
        served.pop("computed_at"), printed.pop("computed_at")
    assert differences(served, printed) == []


def steps(funnel: dict[str, Any]) -> dict[str, int]:
    return {row["event"]: row["customers"] for row in funnel["rows"]}


def test_the_numbers_come_from_what_was_sent_and_what_the_journeys_did(platform: Platform) -> None:
    sent = platform.sent["default"]
    funnel = platform.get("default", "funnel", steps=["cart_abandoned", "order_completed"], within="30d")
    assert steps(funnel.json()) == {"cart_abandoned": 48, "order_completed": buyers(sent, 30 * DAY)}
    # Every customer entered cart recovery; the flows out of its first node account for every run.
    flows = platform.get("default", "paths", sankey="true", journey="cart-recovery").json()["flows"]
    out_of = {(f["source"], f["target"]): f["count"] for f in flows}
    assert out_of[("(entry)", "start")] == 48
    assert sum(n for (source, _), n in out_of.items() if source == "start") == 48
    clv = platform.get("default", "clv").json()
    bought = {m["userId"] for m in sent if m.get("event") == "order_completed"}
    assert clv["totals"]["customers"] == len(bought) and clv["totals"]["expected_purchases"] > 0


def test_a_workspace_sees_its_own_archive_rows_only(platform: Platform) -> None:
    sent = platform.sent["globex"]
    funnel = platform.get(
        "globex", "funnel", steps=["cart_abandoned", "order_completed"], within="30d"
    ).json()
    assert steps(funnel) == {"cart_abandoned": 8, "order_completed": buyers(sent, 30 * DAY)}
    assert funnel == cli_json(
        platform.root / "globex", "funnel", "cart_abandoned", "order_completed", "--within", "30d"
    )
    retention = platform.get("globex", "lifecycle", cohorts="true").json()
    assert sum(row["customers"] for row in retention["rows"] if row["weeks_since"] == 0) == 8
    theirs = {c["customer"] for c in platform.get("globex", "clv").json()["customers"]}
    ours = {c["customer"] for c in platform.get("default", "clv").json()["customers"]}
    assert theirs and ours and theirs.isdisjoint(ours)
    # On disk too: each workspace's folder holds its own rows and nothing else.
    for workspace in ("default", "globex"):
        seen = open_engine(Archive(platform.root / workspace)).query("SELECT DISTINCT workspace FROM event")
        assert seen.column("workspace").to_pylist() == [workspace]


def test_keys_decide_who_may_ask(platform: Platform) -> None:
    url = f"{platform.url}/api/v1/analytics/nodes"
    assert httpx.get(url).status_code == 401
    write_key = platform.keys["default"][0]
    refused = httpx.get(url, headers={"Authorization": f"Bearer {write_key}"})
    assert refused.status_code == 403 and "admin key" in refused.json()["error"]


@pytest.mark.parametrize(
    ("path", "params", "where", "says"),
    [
        ("nodes", {"alpha": 2}, "query.alpha", "less than 1"),
        ("nodes", {"min_runs": 0}, "query.min_runs", "greater than or equal to 1"),
        ("funnel", {"steps": ["a", "b"], "within": "a week"}, "query.within", "not a duration"),
        ("funnel", {"steps": ["a"]}, "query.steps", "at least 2"),
        ("attribution", {"model": "magic"}, "query.model", "not one of"),
        ("attribution", {"order": 9}, "query.order", "less than or equal to 3"),
        ("paths", {"to": "order_completed"}, "query.from", "missing"),
        ("experiment", {"weights": "A=50,B=50"}, "query.weights", "one split"),
        ("clv", {"as_of": "yesterday"}, "query.as_of", "valid date"),
        ("lifecycle", {"period": "fortnight"}, "query.period", "'week' or 'month'"),
        ("nodes", {"engine": "spark"}, "query.engine", "not one of"),
    ],
)
def test_a_bad_parameter_is_named_with_what_to_give(
    platform: Platform, path: str, params: dict[str, Any], where: str, says: str
) -> None:
    answer = platform.get("default", path, **params)
    assert answer.status_code == 422, answer.text
    problems = answer.json()["problems"]
    assert [p["path"] for p in problems] == [where] and says in problems[0]["message"], problems


def test_the_openapi_document_describes_every_analysis(platform: Platform) -> None:
    document = httpx.get(f"{platform.url}/openapi.json").json()
    for name in ("nodes", "experiment", "funnel", "paths", "attribution", "clv", "lifecycle"):
        operation = document["paths"][f"/api/v1/analytics/{name}"]["get"]
        assert operation["summary"] and operation["description"] and operation["parameters"]
        assert {"401", "403", "422"} <= set(operation["responses"])
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/analytics/funnel"]["get"]["parameters"]}
    assert parameters["steps"]["required"] and "repeat" in parameters["steps"]["description"]
    assert "post" in document["paths"]["/api/v1/analytics/clv/traits"]
    # ... and docs/api.md names every route and every parameter.
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    section = text[text.index("## Analytics") : text.index("## Errors")]
    for path, item in document["paths"].items():
        if path.startswith("/api/v1/analytics/"):
            assert path.removeprefix("/api/v1") in section, path
            for operation in item.values():
                missing = [p["name"] for p in operation["parameters"] if f"`{p['name']}`" not in section]
                assert missing == [], f"docs/api.md does not mention {missing} of {path}"


def test_clv_becomes_traits_on_the_profiles_audited(platform: Platform) -> None:
    admin = {"Authorization": f"Bearer {platform.keys['default'][1]}"}
    scored = platform.get("default", "clv").json()
    written = httpx.post(f"{platform.url}/api/v1/analytics/clv/traits", headers=admin, timeout=60)
    assert written.status_code == 200, written.text
    answer = written.json()
    count = len(scored["customers"])
    assert [answer[k] for k in ("customers", "written", "repeated", "unknown")] == [count, count, 0, 0]
    platform.settle()
    for row in scored["customers"][:5]:
        profile = httpx.get(f"{platform.url}/api/v1/profiles/{row['customer']}", headers=admin).json()
        traits = profile["traits"]
        assert traits["clv_expected_purchases"] == pytest.approx(row["expected_purchases"])
        assert traits["clv_probability_alive"] == pytest.approx(row["probability_alive"])
        assert traits["clv_expected_value"] == pytest.approx(row["expected_value"])
        assert traits["clv_computed_at"] == answer["computed_at"] and "email" in traits  # added, not replaced
    audit = httpx.get(f"{platform.url}/api/v1/audit", params={"kind": "traits"}, headers=admin).json()
    (entry,) = audit["items"]
    assert (entry["name"], entry["action"], entry["actor_role"]) == ("clv", "write", "admin")
    assert (entry["detail"]["customers"], entry["detail"]["new"]) == (count, count)


def test_rumbo_serve_exports_on_its_own(tmp_path: Path) -> None:
    config = ServiceConfig(home=tmp_path / "data", journeys=[example_journeys()], archive_interval=0.05)
    service = Service(config)
    service.start()
    assert service.created is not None and service.archive_root == tmp_path / "data" / "archive"
    try:
        with http_server(create_app(service)) as url:
            sent = httpx.post(f"{url}/v1/track", json={"userId": "ana", "event": "signed_up"},
                              auth=(service.created.write_key, ""))  # fmt: skip
            assert sent.status_code == 200
            deadline = time.monotonic() + 30
            folder = tmp_path / "data" / "archive" / "default" / "event"
            while not list(folder.rglob("*.parquet")):
                assert time.monotonic() < deadline, "the exporter wrote nothing"
                time.sleep(0.02)
            answer = httpx.get(
                f"{url}/api/v1/analytics/funnel",
                params={"steps": ["signed_up", "order_completed"]},
                headers={"Authorization": f"Bearer {service.created.admin_key}"},
            )
            assert steps(answer.json()) == {"signed_up": 1, "order_completed": 0}
    finally:
        service.stop()
