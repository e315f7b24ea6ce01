"""`rumbo import` on the command line (SQLite in RUMBO_HOME): the report, the rejects file, dead letters, and
a clear error, with nothing written, for every way a file or a mapping can be unusable."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from rumbo.cli.main import main
from rumbo.store.catalog import Actor, CatalogStore
from rumbo.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "imports"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite data directory with the workspace `default`, the current folder a temporary one."""
    data = tmp_path / "data"
    monkeypatch.setenv("RUMBO_HOME", str(data))
    monkeypatch.delenv("RUMBO_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    created = rumbo("workspace", "create", "default")
    assert created.exit_code == 0, created.output
    return data


def rumbo(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_importing_the_examples_prints_a_report_and_a_second_run_finds_them_all(home: Path) -> None:
    for name in ("store-purchases.csv", "call-centre.jsonl", "crm.parquet"):
        mapping = str(EXAMPLES / f"{name.split('.')[0]}.yaml")
        first = rumbo("import", str(EXAMPLES / name), "--mapping", mapping)
        assert first.exit_code == 0, first.output
        assert "rows read" in first.output and "0 already in the log, 0 rejected" in first.output
        again = rumbo("import", str(EXAMPLES / name), "--mapping", mapping, "--json")
        assert again.exit_code == 0, again.output
        report = orjson.loads(again.output)
        assert report["imported"] == 0 and report["duplicates"] == report["read"] > 0, report
        assert report["rows_per_second"] > 0 and report["rejects_file"] is None


def test_rejected_rows_are_listed_by_reason_and_as_dead_letters(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "purchases.csv"
    source.write_text(
        "receipt,sold_at,buyer,total\n"
        "R-1,2026-11-18 10:42,ana,129.90\n"
        "R-2,2026-11-18 10:50,bea,twelve\n"
        "R-3,2026-11-18 10:55,cai,1O.00\n"
        "R-4,2026-11-18 11:00,dan,30\n",
        encoding="utf-8",
    )
    result = rumbo(
        "import", str(source), "--event", "order_completed", "--map", "receipt=messageId",
        "--map", "buyer=userId", "--map", "total=properties.revenue:number", "--map", "sold_at=timestamp",
        "--timezone", "Europe/Madrid",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 rows read" in result.output and "2 imported" in result.output and "2 rejected" in result.output
    # One reason for both rows, with their lines.
    assert "2: $.properties.revenue: column \"total\": 'twelve' is not a number" in result.output
    assert "— lines 3, 4" in result.output
    assert "purchases.rejects.csv" in result.output
    rejects = (tmp_path / "purchases.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == "receipt,sold_at,buyer,total,rumbo_line,rumbo_reason,rumbo_message_id,rumbo_text"
    assert rejects[1].startswith("R-2,2026-11-18 10:50,bea,twelve,3,") and rejects[1].endswith(",R-2,")
    letters = rumbo("deadletters", "--rule", "rejected")
    assert letters.exit_code == 0, letters.output
    assert "2 dead letters" in letters.output and "R-2" in letters.output and "R-3" in letters.output


def test_a_dry_run_writes_nothing(home: Path, tmp_path: Path) -> None:
    source = EXAMPLES / "store-purchases.csv"
    mapping = str(EXAMPLES / "store-purchases.yaml")
    dry = rumbo("import", str(source), "--mapping", mapping, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "8 would be imported (dry run: nothing written)" in dry.output
    real = rumbo("import", str(source), "--mapping", mapping, "--json")
    assert orjson.loads(real.output)["imported"] == 8, real.output


def failure(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_a_mapping_naming_a_column_the_file_lacks_stops_before_anything_is_written(home: Path) -> None:
    source = str(EXAMPLES / "store-purchases.csv")
    result = rumbo(
        "import",
        source,
        "--mapping",
        str(EXAMPLES / "store-purchases.yaml"),
        "--map",
        "amount=properties.amount",
    )
    failure(result, "store-purchases.csv has no column 'amount'", "'receipt', 'store'", "check the spelling")
    unknown = rumbo("import", source, "--event", "x", "--map", "customer_id=userid")
    failure(unknown, "'userid' is not a message field", "userId")
    no_event = rumbo("import", source, "--map", "customer_id=userId")
    failure(no_event, "track events need a name", "--event NAME")
    assert "no dead letters" in rumbo("deadletters").output
    # Columns named like message fields map themselves: `email` identifies most shoppers here; the two
    # rows without one (customer_id is not a field name, so it went to properties) have no customer.
    unnamed = rumbo("import", source, "--event", "x", "--set", "context.channel=store", "--json")
    report = orjson.loads(unnamed.output)
    assert (report["imported"], report["rejected"]) == (6, 2), report
    assert "customer_id" in report["into_properties_or_traits"]
    assert "$.userId: required for track" in report["reasons"][0]["example"]


def test_a_bad_mapping_file_lists_every_problem(home: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(
        "type: purchase\ntimezone: Mars/Olympus\ncolour: red\ntime_format: dd/mm/yyyy\n"
        "columns:\n  total: {field: properties.x, type: float}\n",
        encoding="utf-8",
    )
    result = rumbo("import", str(EXAMPLES / "store-purchases.csv"), "--mapping", str(mapping))
    failure(
        result,
        "bad.yaml: 5 problems in the mapping",
        "colour: unknown key",
        "columns.total.type: 'float' is not a type",
        "type: 'purchase' is not a call",
        "'Mars/Olympus' is not an IANA time zone",
        "time_format: time format 'dd/mm/yyyy' — use iso, epoch, epoch_ms or a strftime pattern",
    )


def test_files_that_cannot_be_read_say_so(home: Path, tmp_path: Path) -> None:
    failure(rumbo("import", str(tmp_path / "missing.csv"), "--event", "x"), "missing.csv: no such file")
    notes = tmp_path / "notes.docx"
    notes.write_text("hello", encoding="utf-8")
    failure(rumbo("import", str(notes), "--event", "x"), "cannot tell the format", "--format")
    fake = tmp_path / "fake.parquet"
    fake.write_text("a,b\n1,2\n", encoding="utf-8")
    failure(rumbo("import", str(fake), "--event", "x", "--map", "a=userId"), "not a Parquet file")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    failure(rumbo("import", str(empty), "--event", "x"), "empty.csv: the file is empty")
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("userId,total,total\nana,1,2\n", encoding="utf-8")
    failure(rumbo("import", str(doubled), "--event", "x"), "line 1: column 'total' appears twice")
    elsewhere = rumbo("import", str(EXAMPLES / "crm.parquet"), "--workspace", "acme", "--type", "identify")
    failure(elsewhere, "no workspace 'acme'", "rumbo workspace create acme")


def test_bad_lines_of_json_lines_and_odd_encodings_are_rejected_one_by_one(
    home: Path, tmp_path: Path
) -> None:
    lines = tmp_path / "contacts.jsonl.gz"
    with gzip.open(lines, "wt", encoding="utf-8") as handle:
        handle.write('{"userId": "ana", "event": "call_completed"}\n')
        handle.write("{not json\n\n")
        handle.write('["a", "list"]\n')
        handle.write('{"userId": "bea", "event": "call_completed", "minutes": 4}\n')
    result = rumbo("import", str(lines), "--json", "--rejects", str(tmp_path / "bad.jsonl"))
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    assert (report["read"], report["imported"], report["rejected"]) == (4, 2, 2), report
    assert sorted(line for r in report["reasons"] for line in r["lines"]) == [2, 4]
    assert report["into_properties_or_traits"] == ["minutes"]
    bad = [orjson.loads(text) for text in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert [(b["rumbo_line"], b["rumbo_text"]) for b in bad] == [(2, "{not json"), (4, '["a", "list"]')]

    latin = tmp_path / "latin.csv"
    latin.write_bytes("userId;city\nana;Málaga\nbea;A Coruña\n".encode("latin-1"))
    as_utf8 = rumbo("import", str(latin), "--event", "visit", "--json", "--map", "city=properties.city")
    # A semicolon file read with commas is one column; the mapping names one it does not have.
    failure(as_utf8, "has no column 'city'")
    mapping = tmp_path / "latin.yaml"
    mapping.write_text("event: visit\ndelimiter: ';'\nencoding: latin-1\n", encoding="utf-8")
    right = rumbo("import", str(latin), "--mapping", str(mapping), "--json")
    assert orjson.loads(right.output)["imported"] == 2, right.output
    wrong = tmp_path / "mixed.csv"
    wrong.write_bytes(b"userId,city\nana,M\xe1laga\nbea,Madrid\n")
    mixed = orjson.loads(rumbo("import", str(wrong), "--event", "visit", "--json").output)
    assert (mixed["imported"], mixed["rejected"]) == (1, 1), mixed
    assert 'column "city" is not utf-8 text' in mixed["reasons"][0]["example"]


def test_parquet_types_and_per_column_formats(home: Path, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "when": pa.array(["20261118 1042", "20261118 1050"]),
            "amount": pa.array([12.5, None]),
            "vip": pa.array([True, False]),
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet")
    result = rumbo(
        "import", str(tmp_path / "orders.parquet"), "--event", "order_completed", "--json",
        "--map", "id=userId", "--map", "when=timestamp:%Y%m%d %H%M", "--map", "amount=properties.revenue",
        "--map", "vip=traits.vip",
    )  # fmt: skip
    report = orjson.loads(result.output)
    assert (report["read"], report["imported"], report["rejected"]) == (2, 2, 0), result.output
    profile = rumbo("profile", "show", "1", "--json")
    timeline = orjson.loads(profile.output)["timeline"]
    assert timeline[0]["properties"] == {"revenue": 12.5}
    assert timeline[0]["at"] == 1_794_998_520.0  # 2026-11-18 10:42 UTC


def test_a_rejects_file_imported_again_never_overwrites_itself(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "visits.tsv"
    source.write_text("userId\tcity\tseconds\nana\tMadrid\t12\nbea\tLugo\tlong\n", encoding="utf-8")
    options = ("--event", "visit", "--map", "seconds=properties.seconds:integer", "--json")
    first = orjson.loads(rumbo("import", str(source), *options).output)
    assert (first["imported"], first["rejected"], first["rejects_file"]) == (1, 1, "visits.rejects.tsv")
    rejects = tmp_path / "visits.rejects.tsv"
    assert rejects.read_text(encoding="utf-8").splitlines()[1].startswith("bea\tLugo\tlong\t3\t")
    # Still bad: rejected again, into a file of its own rather than over the one being read.
    again = orjson.loads(rumbo("import", str(rejects), *options).output)
    assert (again["rejected"], again["rejects_file"]) == (1, "visits.rejects.rejects.tsv"), again
    same = rumbo("import", str(rejects), *options, "--rejects", str(rejects))
    failure(same, "the rejects file cannot be the file being imported")


def test_rows_the_tracking_plan_blocks_are_released_by_rumbo_deadletters_replay(
    home: Path, tmp_path: Path
) -> None:
    store = SqliteStore.open(home)
    plan = {"events": {"order_completed": {"mode": "block", "schema": {"required": ["properties"]}}}}
    CatalogStore(store).put_tracking_plan("default", plan, actor=Actor("test"), at=0.0)
    store.close()
    source = tmp_path / "orders.csv"
    source.write_text("order,buyer\nO-1,ana\n", encoding="utf-8")
    options = ("--event", "order_completed", "--map", "order=messageId", "--map", "buyer=userId")
    blocked = orjson.loads(rumbo("import", str(source), *options, "--json").output)
    assert (blocked["imported"], blocked["blocked"]) == (0, 1), blocked
    assert "O-1" in rumbo("deadletters", "--rule", "order_completed").output
    fixed = tmp_path / "plan.yaml"
    fixed.write_text("events:\n  order_completed: {mode: warn}\n", encoding="utf-8")
    replayed = rumbo("deadletters", "replay", str(fixed))
    assert replayed.exit_code == 0 and "released 1 into the event log" in replayed.output, replayed.output
    timeline = orjson.loads(rumbo("profile", "show", "ana", "--json").output)["timeline"]
    assert [item["messageId"] for item in timeline] == ["O-1"]
