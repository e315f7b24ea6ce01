"""`rumbo demo` end to end on a small population: events over HTTP, journeys on accelerated time, mail
through a real SMTP server, files for the other channels, the archive, and a summary that matches the
store."""

from __future__ import annotations

import mailbox
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import open_engine
from rumbo.cli.main import main
from rumbo.demo.population import Population
from rumbo.store.sqlite import SqliteStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("demo") / "home"
    result = CliRunner().invoke(main, ["demo", "--customers", "300", "--days", "14", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return home, result.output


@pytest.fixture
def store(demo_run: tuple[Path, str]) -> Iterator[SqliteStore]:
    opened = SqliteStore.open(demo_run[0])
    yield opened
    opened.close()


def _rows(store: SqliteStore, query: str) -> list[tuple[Any, ...]]:
    return store._query(query)


def _mails(path: Path) -> list[mailbox.mboxMessage]:
    box = mailbox.mbox(path, create=False)
    try:
        return list(box)
    finally:
        box.close()


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_every_email_the_store_sent_reached_the_smtp_server_once(
    demo_run: tuple[Path, str], store: SqliteStore
) -> None:
    home, _ = demo_run
    sent = {
        str(mid)
        for (mid,) in _rows(
            store, "SELECT message_id FROM deliveries WHERE channel = 'email' AND status = 'sent'"
        )
    }
    outbox = _rows(
        store,
        "SELECT COUNT(*) FROM outbox o JOIN deliveries d ON d.key = o.key "
        "WHERE d.channel = 'email' AND o.status = 'sent'",
    )[0][0]
    messages = _mails(home / "mail" / "demo.mbox")
    received = [str(message["Message-ID"]) for message in messages]
    assert sent, "the small demo sends some email"
    assert len(received) == len(sent) == outbox
    assert set(received) == sent  # the same messages, none twice
    assert _rows(store, "SELECT COUNT(*) FROM outbox WHERE status != 'sent'")[0][0] == 0
    first = messages[0]
    assert first["From"] == "Demo Shop <shop@demo.rumbo.invalid>"
    assert first["X-Rumbo-Send"] and first["Subject"]


def test_sms_push_offline_and_inbox_sends_are_in_files_once(
    demo_run: tuple[Path, str], store: SqliteStore
) -> None:
    home, _ = demo_run
    files = {
        "sms": (home / "files" / "sms.jsonl", "idempotency_key"),
        "push": (home / "files" / "push.jsonl", "idempotency_key"),
        "offline": (home / "files" / "default" / "offline.jsonl", "key"),
        "inbox": (home / "files" / "inbox.jsonl", "key"),
    }
    for channel, (path, field) in files.items():
        keys = {
            str(key)
            for (key,) in _rows(
                store, f"SELECT key FROM deliveries WHERE channel = '{channel}' AND status = 'sent'"
            )
        }
        lines = _jsonl(path) if path.exists() else []
        written = [str(line[field]) for line in lines]
        assert len(written) == len(set(written)) == len(keys), channel
        assert set(written) == keys, channel
    tasks = _jsonl(files["offline"][0])
    assert tasks, "detractors get a call-centre task in the small demo"
    assert all(task["list"] == "offline" and "NPS" in str(task["text"]) for task in tasks)
    texts = _jsonl(files["sms"][0])
    assert texts and all(str(t["to"]).startswith("+34") for t in texts)


def test_the_summary_shows_what_the_store_holds(demo_run: tuple[Path, str], store: SqliteStore) -> None:
    _, out = demo_run
    for heading in (
        "Journeys",
        "Per node",
        "A/B test in cart-recovery",
        "Sends held back by the gate",
        "Delivered, per channel",
        "Where to look next",
    ):
        assert heading in out
    sends = _rows(store, "SELECT COUNT(*) FROM outbox")[0][0]
    customers = _rows(store, "SELECT COUNT(*) FROM customer_state")[0][0]
    assert customers == 300
    assert f"Messages: {sends:,} to 300 customers" in out
    entered = Counter(
        str(orjson.loads(body)["journey"])
        for (body,) in _rows(store, "SELECT body FROM records WHERE kind = 'transition'")
        if orjson.loads(body)["cause"] == "entered"
    )
    journeys_table = out[out.index("Journeys") : out.index("Per node")]
    shown = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(r"│ ([a-z-]+)\s+│\s+([\d,]+) │", journeys_table)
    }
    assert {j: n for j, n in shown.items() if n} == dict(entered)
    email = _rows(store, "SELECT COUNT(*) FROM deliveries WHERE channel = 'email' AND status = 'sent'")[0][0]
    row = re.search(r"│ email\s+│\s+([\d,]+) │\s+([\d,]+) │\s+([\d,]+) │\s+([\d,]+) │", out)
    assert row is not None, out
    assert [int(v.replace(",", "")) for v in row.groups()] == [email, email, 0, email]
    assert f"the SMTP server got {email:,} messages with {email:,} distinct Message-IDs" in out
    assert _rows(store, "SELECT COUNT(*) FROM events WHERE processed_at IS NULL")[0][0] == 0
    assert " 0 dead letters" in out


def test_the_archive_holds_what_the_runtime_stored_and_analyze_reads_it(
    demo_run: tuple[Path, str], store: SqliteStore
) -> None:
    home, out = demo_run
    archive = Archive(home / "archive" / "default")  # the exporter's folder for the workspace
    engine = open_engine(archive)
    for kind in ("transition", "decision", "suppression", "delivery", "conversion"):
        stored = _rows(store, f"SELECT COUNT(*) FROM records WHERE kind = '{kind}'")[0][0]
        archived = engine.query(f"select count(*) as n from {kind}").to_pylist()[0]["n"]
        assert archived == stored > 0, kind
        assert f"{kind} {archived:,}" in out  # the summary's Archive line counts the whole archive
    customers_events = engine.query(
        "select count(*) as n, count(distinct channel) as channels from event where type = 'track'"
    ).to_pylist()[0]
    assert customers_events["n"] > 1000 and customers_events["channels"] >= 5
    nodes = CliRunner().invoke(main, ["analyze", "nodes", "--archive", str(home / "archive" / "default")])
    assert nodes.exit_code == 0, nodes.output
    assert "cart-recovery" in nodes.output


def test_demo_keeps_a_directory_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["demo", "--customers", "5", "--days", "1", "--home", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "holds notes.txt, which no demo wrote" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_demo_rejects_an_empty_population(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--customers", "0", "--home", str(tmp_path / "d")])
    assert result.exit_code == 2, result.output
    assert "--customers and --days must be at least 1" in result.output


def test_the_population_is_reproducible_and_multi_channel() -> None:
    first = list(Population(200, 90, 1_772_409_600.0, seed=3).messages())
    again = list(Population(200, 90, 1_772_409_600.0, seed=3).messages())
    other = list(Population(200, 90, 1_772_409_600.0, seed=4).messages())
    assert first == again and first != other
    assert max(m["timestamp"] for m in first) < 1_772_409_600.0 + 90 * 86400
    channels = {m["context"]["channel"] for m in first if m["type"] == "track"}
    assert {"web", "app", "store", "call_centre"} <= channels
    segments = {m["traits"]["segment"] for m in first if m["type"] == "identify"}
    assert segments == {"loyal", "regular", "bargain", "browser", "new"}
    # complementary purchases: some camera buyers come back for lenses or memory cards
    buyers = {
        m["userId"]
        for m in first
        if m.get("event") == "order_completed" and m["properties"]["category"] == "cameras"
    }
    follow_ups = {
        m["userId"]
        for m in first
        if m.get("event") == "order_completed" and m["properties"]["category"] in ("lenses", "memory_cards")
    }
    assert buyers & follow_ups
