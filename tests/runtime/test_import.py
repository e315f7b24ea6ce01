"""`rumbo import` into a real store (SQLite and PostgreSQL): the example files, journeys reacting to what was
imported, idempotent re-imports, rejected rows (report, rejects file, dead letters) and the tracking plan."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest

from rumbo.engine.step import Engine
from rumbo.ingest import TrackingPlan, replay
from rumbo.ingest.files import ImportReport, load_mapping
from rumbo.journey.load import load_journeys
from rumbo.runtime.importer import open_import
from rumbo.runtime.intake import append_accepted
from rumbo.runtime.profile import find_customer, profile_view
from rumbo.runtime.worker import Worker
from rumbo.store.catalog import Actor, CatalogStore
from rumbo.store.profiles import SqlDeadLetters
from rumbo.store.sql import SqlStore
from tests.store.conftest import Factory, store_factory

__all__ = ["store_factory"]  # the store tests' fixture, on SQLite and PostgreSQL, used here too

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "imports"
NOW = 1_795_435_200.0  # 2026-11-23 12:00 UTC, after every example row


@pytest.fixture
def store(store_factory: Factory) -> SqlStore:
    """A fresh, upgraded store with the workspace `default`, on SQLite and on PostgreSQL."""
    store = store_factory()
    store.upgrade()
    store.create_workspace("default", at=0.0)
    return store


def imported(store: SqlStore, name: str, tmp_path: Path, **options: Any) -> ImportReport:
    """Import an example file with its mapping (options such as `dry_run` passed on)."""
    mapping = load_mapping(EXAMPLES / f"{name.split('.')[0]}.yaml")
    rejects = tmp_path / "rejects.csv"
    return open_import(store, EXAMPLES / name, mapping, rejects=rejects, received_at=NOW, **options).run()


def event_count(store: SqlStore) -> int:
    return int(store._query("SELECT COUNT(*) FROM events WHERE workspace = 'default'")[0][0])


def work(store: SqlStore) -> int:
    """Run the worker with the example journeys until nothing is left to do; the events it processed."""
    engine = Engine(load_journeys([ROOT / "examples" / "journeys"]))
    return Worker(store, "default", engine).run_until_idle(lambda: NOW)


def entered(store: SqlStore, who: str) -> list[str]:
    """The journeys a customer entered, from the transitions the worker recorded."""
    customer = find_customer(store, "default", who)
    assert customer is not None, f"no customer {who}"
    records = store.records("default", customer)
    return sorted(
        {r.data["journey"] for r in records if r.kind == "transition" and r.data["cause"] == "entered"}
    )


def test_store_purchases_from_csv_start_journeys_like_live_events(store: SqlStore, tmp_path: Path) -> None:
    report = imported(store, "store-purchases.csv", tmp_path)
    assert (report.read, report.imported, report.duplicates, report.rejected) == (8, 8, 0, 0), (
        report.to_dict()
    )
    assert report.rejects_file is None and not (tmp_path / "rejects.csv").exists()
    assert work(store) >= 8
    # Purchases of 30 or more enter the cross-sell journey; ana's 129.90 did, the walk-in's 24.50 did not.
    assert "post-purchase-cross-sell" in entered(store, "ana")
    assert entered(store, "email:luis.moreno@example.com") == []
    # The loyalty card alone identifies a shopper, and the event carries the mapped, typed fields.
    view = profile_view(store, "default", str(find_customer(store, "default", "loyalty_card:LC-100871")))
    (event,) = [item for item in view["timeline"] if item["type"] == "track"]
    assert event["properties"] == {
        "store": "Barcelona Diagonal",
        "revenue": 59.0,
        "items": 3,
        "category": "phones",
        "loyalty_member": True,
        "currency": "EUR",
    }
    assert (event["channel"], event["messageId"]) == ("store", "R-20261118-0003")
    assert event["at"] == 1_795_001_460.0  # 18/11/2026 12:31 in Madrid is 11:31 UTC


def test_importing_a_file_again_stores_nothing_twice(store: SqlStore, tmp_path: Path) -> None:
    first = imported(store, "call-centre.jsonl", tmp_path)  # no messageId column: ids come from the rows
    stored = event_count(store)
    again = imported(store, "call-centre.jsonl", tmp_path)
    assert (first.imported, first.duplicates) == (6, 0)
    assert (again.read, again.imported, again.duplicates, again.rejected) == (6, 0, 6, 0)
    assert event_count(store) == stored


def test_call_centre_contacts_and_crm_export_make_one_profile(store: SqlStore, tmp_path: Path) -> None:
    calls = imported(store, "call-centre.jsonl", tmp_path)
    crm = imported(store, "crm.parquet", tmp_path)
    assert (calls.imported, crm.imported, calls.rejected + crm.rejected) == (6, 5, 0)
    assert calls.folded == ["topic", "agent", "comment"]  # the keys the mapping leaves to `unmapped`
    work(store)
    # The caller known only by phone is carlos in the CRM: one customer with both histories.
    carlos = str(find_customer(store, "default", "carlos"))
    assert find_customer(store, "default", "phone:+34612345678") == carlos
    view = profile_view(store, "default", carlos)
    assert view["traits"]["first_name"] == "Carlos" and view["traits"]["plan"] == "plus"
    assert {"kind": "crm_id", "value": "CRM-0004"} in view["identities"]
    assert view["consent"]["email"] is True
    # The survey (NPS 4) started the survey follow-up journey, which flagged the detractor.
    events = sorted(item["event"] for item in view["timeline"] if item["type"] == "track")
    assert events == ["call_completed", "detractor_flagged", "survey_submitted"]
    assert "survey-follow-up" in entered(store, "carlos")
    assert "survey-follow-up" in entered(store, "bea")


BAD_PURCHASES = """receipt,store,sold_at,customer_id,email,loyalty_card,total,items,category,member
R-1,Madrid,18/11/2026 10:42,ana,ana@example.com,,129.90,2,cameras,yes
R-2,Madrid,18/11/2026 10:50,ana,,,twelve,1,cameras,yes
R-3,Madrid,not a date,ana,,,10.00,1,cameras,yes
R-4,Madrid,18/11/2026 11:00,,not-an-email,,10.00,1,cameras,yes
R-5,Madrid,18/11/2026 11:05,,,,10.00,1,cameras,yes
R-6,Madrid,18/11/2026 11:10,bea
R-7,Madrid,18/11/2026 11:15,bea,,,5x,1,cameras,maybe
R-8,Madrid,18/11/2026 11:20,bea,,,40.00,1,phones,no
"""


def test_rejected_rows_are_reported_kept_and_can_be_fixed(store: SqlStore, tmp_path: Path) -> None:
    source = tmp_path / "purchases.csv"
    source.write_text(BAD_PURCHASES, encoding="utf-8")
    mapping = load_mapping(EXAMPLES / "store-purchases.yaml")
    rejects = tmp_path / "purchases.rejects.csv"
    report = open_import(store, source, mapping, rejects=rejects, received_at=NOW).run()
    assert (report.read, report.imported, report.rejected) == (8, 2, 6), report.to_dict()
    by_line = {line: reason.example for reason in report.reasons.values() for line in reason.lines}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8]
    assert "column \"total\": 'twelve' is not a number" in by_line[3]
    assert 'column "sold_at"' in by_line[4] and "%d/%m/%Y %H:%M" in by_line[4]
    assert "not an email address" in by_line[5]
    assert "$.userId" in by_line[6]  # nothing identifies the shopper
    assert "has 4 fields where the header has 10" in by_line[7]
    assert "total" in by_line[8] and "member" in by_line[8]  # every problem of a row, not only the first
    # The rejects file holds each row as it was, with its line, reason and the id it will keep.
    with rejects.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["rumbo_line"] for row in rows] == ["3", "4", "5", "6", "7", "8"]
    assert rows[0]["total"] == "twelve" and rows[0]["rumbo_message_id"] == "R-2"
    assert rows[4]["rumbo_text"] == "R-6,Madrid,18/11/2026 11:10,bea"
    # Each is a dead letter too, listed by `rumbo deadletters`.
    letters = SqlDeadLetters(store).letters("default", "rejected")
    assert len(letters) == 6 and {"R-2", "R-3", "R-4", "R-5", "R-7"} <= {letter.id for letter in letters}
    # Fixing the rows in the rejects file and importing it finishes the job and clears their letters.
    fixed = (
        rejects.read_text(encoding="utf-8")
        .replace("twelve", "12.00")
        .replace("not a date", "18/11/2026 10:55")
    )
    fixed_file = tmp_path / "fixed.csv"
    fixed_file.write_text(fixed, encoding="utf-8")
    second = open_import(store, fixed_file, mapping, rejects=tmp_path / "again.csv", received_at=NOW).run()
    assert (second.imported, second.rejected) == (2, 4), second.to_dict()
    assert {letter.id for letter in SqlDeadLetters(store).letters("default", "rejected")}.isdisjoint(
        {"R-2", "R-3"}
    )
    assert len(SqlDeadLetters(store).letters("default", "rejected")) == 4


PLAN = {
    "name": "shop",
    "events": {
        "order_completed": {
            "mode": "block",
            "schema": {"properties": {"properties": {"required": ["revenue", "category"]}}},
        }
    },
}


def test_a_tracking_plan_in_block_mode_rejects_rows_and_replay_releases_them(
    store: SqlStore, tmp_path: Path
) -> None:
    CatalogStore(store).put_tracking_plan("default", PLAN, actor=Actor("test"), at=NOW)
    source = tmp_path / "purchases.csv"
    source.write_text(
        "receipt,store,sold_at,customer_id,email,loyalty_card,total,items,category,member\n"
        "R-1,Madrid,18/11/2026 10:42,ana,,,129.90,1,cameras,yes\n"
        "R-2,Madrid,18/11/2026 10:50,bea,,,45.00,1,,no\n",
        encoding="utf-8",
    )
    mapping = load_mapping(EXAMPLES / "store-purchases.yaml")
    report = open_import(store, source, mapping, rejects=tmp_path / "r.jsonl", received_at=NOW).run()
    assert (report.imported, report.rejected, report.blocked) == (1, 1, 1), report.to_dict()
    (reason,) = report.reasons.values()
    assert reason.lines == [3] and "tracking plan (rule 'order_completed')" in reason.example
    assert "$.properties.category" in reason.example
    (line,) = [orjson.loads(text) for text in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert (line["rumbo_line"], line["rumbo_message_id"], line["receipt"]) == (3, "R-2", "R-2")
    (letter,) = SqlDeadLetters(store).letters("default", "order_completed")
    assert letter.id == "R-2"
    # A fixed plan lets it through, exactly as for a blocked HTTP event.
    fixed = TrackingPlan.from_document({"events": {"order_completed": {"mode": "warn"}}})
    replayed = replay(SqlDeadLetters(store), "default", fixed)
    append_accepted(store, "default", replayed.released, received_at=NOW)
    assert [a.message["messageId"] for a in replayed.released] == ["R-2"]
    assert "post-purchase-cross-sell" in entered_after_work(store, "bea")


def entered_after_work(store: SqlStore, who: str) -> list[str]:
    work(store)
    return entered(store, who)


def test_a_dry_run_checks_every_row_and_writes_nothing(store: SqlStore, tmp_path: Path) -> None:
    source = tmp_path / "purchases.csv"
    source.write_text(BAD_PURCHASES, encoding="utf-8")
    mapping = load_mapping(EXAMPLES / "store-purchases.yaml")
    report = open_import(
        store, source, mapping, dry_run=True, rejects=tmp_path / "r.csv", received_at=NOW
    ).run()
    assert (report.read, report.imported, report.rejected) == (8, 2, 6), report.to_dict()
    assert any("not an email address" in reason.example for reason in report.reasons.values())
    assert event_count(store) == 0
    assert SqlDeadLetters(store).letters("default") == []
