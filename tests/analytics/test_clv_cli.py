"""`rumbo analyze clv` end to end: orders file and archive, every format, chart and traits."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from rumbo.analytics.archive import Archive
from rumbo.cli.main import main

DATA = Path(__file__).parent / "data"
ORDER_MAP = ["--map", "id=customer", "--map", "order_date=timestamp", "--map", "amount=value"]


@pytest.fixture(scope="module")
def orders_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("orders") / "cdnow.csv"
    with (DATA / "CDNOW_sample.txt").open() as source, path.open("w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(["id", "order_date", "amount"])
        for line in source:
            _, sample_id, day, _, value = line.split()
            writer.writerow([sample_id, f"{day[:4]}-{day[4:6]}-{day[6:]}", value])
    return path


def test_table_shows_top_customers_and_the_published_parameters(orders_file: Path) -> None:
    args = ["analyze", "clv", "--orders", str(orders_file), *ORDER_MAP, "--as-of", "1997-09-30"]
    result = CliRunner().invoke(main, [*args, "--horizon", "39w", "--top", "5"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Top 5 customers by expected value" in out
    # Customer 0509 (18 repeat purchases averaging 78.63) is the most valuable over 39 weeks.
    assert out.index("0509") < out.index("Parameters")
    for name, value in (("r", "0.2426"), ("alpha", "4.41"), ("a", "0.7929"), ("b", "2.43")):
        assert any(f"│ {name} " in line and value in line for line in out.splitlines()), (name, out)
    assert "2,357 customers as of 1997-09-30" in out
    assert "bgnbd log-likelihood -9,582.4" in out


def test_json_and_csv_carry_every_customer(orders_file: Path) -> None:
    base = ["analyze", "clv", "--orders", str(orders_file), *ORDER_MAP, "--as-of", "1997-09-30"]
    as_json = CliRunner().invoke(main, [*base, "--format", "json", "--model", "paretonbd"])
    assert as_json.exit_code == 0, as_json.output
    data = orjson.loads(as_json.output)
    assert data["model"] == "paretonbd"
    assert round(data["parameters"]["alpha"], 2) == 10.58
    assert len(data["customers"]) == 2357
    as_csv = CliRunner().invoke(main, [*base, "--format", "csv", "--top", "3"])
    assert as_csv.exit_code == 0, as_csv.output
    lines = as_csv.output.strip().splitlines()
    assert lines[0].startswith('"customer","frequency"')
    assert len(lines) == 1 + 2357


def test_archive_on_clickhouse_with_chart_and_traits(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    spend = {"ann": [20.0, 30.0, 40.0], "bob": [10.0, 12.0], "cy": [5.0], "dee": [25.0, 35.0]}
    events = []
    for customer, values in spend.items():
        for week, value in enumerate(values):
            events.append(
                {
                    "workspace": "shop",
                    "customer": customer,
                    "messageId": f"{customer}-{week}",
                    "type": "track",
                    "event": "Order Completed",
                    "timestamp": datetime(2026, 9, 1 + 7 * week, 12, tzinfo=UTC),
                    "properties": {"revenue": value},
                }
            )
    archive.append("event", events)
    chart = tmp_path / "clv.html"
    traits = tmp_path / "traits.jsonl"
    args = [
        "analyze",
        "clv",
        "--archive",
        str(archive.root),
        "--engine",
        "clickhouse",
        "--as-of",
        "2026-11-01",
    ]
    result = CliRunner().invoke(main, [*args, "--chart", str(chart), "--write-traits", str(traits)])
    assert result.exit_code == 0, result.output
    # Four customers are too few to model spend: the table says so and ranks by expected purchases.
    assert "spend not modelled" in result.output
    assert "only 4 customers: the parameters are rough" in result.output
    assert "Top 4 customers by expected purchases" in result.output
    page = chart.read_text()
    assert (
        page.startswith("<!doctype html>") and "data:image/png;base64," in page and "<th>decile</th>" in page
    )
    events_out = [orjson.loads(line) for line in traits.read_bytes().splitlines()]
    assert {e["userId"] for e in events_out} == set(spend)
    assert all(e["traits"]["clv_expected_value"] is None for e in events_out)
    # ann bought three times, recently: she leads on expected purchases.
    assert events_out[0]["userId"] == "ann"


def test_png_chart(orders_file: Path, tmp_path: Path) -> None:
    chart = tmp_path / "clv.png"
    args = ["analyze", "clv", "--orders", str(orders_file), *ORDER_MAP, "--chart", str(chart)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--map", "id"], "write SOURCE=TARGET"),
        (["--horizon", "soon"], "is not a duration"),
        (["--map", "nope=customer"], "does not have"),
        (["--as-of", "1990-01-01"], "no purchases found"),
    ],
)
def test_mistakes_are_explained(orders_file: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["analyze", "clv", "--orders", str(orders_file), *ORDER_MAP, *extra])
    assert result.exit_code != 0, result.output
    assert message in result.output, result.output


def test_empty_archive_is_explained(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", "clv", "--archive", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "no purchases found in the archive's purchase events (Order Completed, order_completed)" in (
        result.output
    )
