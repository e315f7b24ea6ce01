"""DuckDB and ClickHouse (chDB) give the same answers to the same DuckDB-dialect SQL.

Each query is checked against a hand-computed answer on each engine, so agreement is not just agreement
between two engines that could share a bug. The queries use the constructs the analyses rely on: outer
joins with NULLs, windows, exact medians, FILTER, JSON properties, week truncation and empty tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import ENGINES, QueryFailed, UnknownEngine, clickhouse_sql, open_engine

T0 = datetime(2026, 11, 18, 12, 0, tzinfo=UTC).timestamp()  # a Wednesday
HOUR = 3600.0


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    archive = Archive(tmp_path_factory.mktemp("archive"))
    base = {"workspace": "w", "journey": "j", "version": 1}
    archive.append(
        "transition",
        [
            {**base, "customer": "a", "run": "r1", "to_node": "start", "cause": "entered", "at": T0},
            {
                **base,
                "customer": "a",
                "run": "r1",
                "from_node": "start",
                "to_node": "email",
                "cause": "next",
                "at": T0 + 1 * HOUR,
                "variant": "A",
            },
            {**base, "customer": "b", "run": "r2", "to_node": "start", "cause": "entered", "at": T0},
            {
                **base,
                "customer": "b",
                "run": "r2",
                "from_node": "start",
                "to_node": "sms",
                "cause": "next",
                "at": T0 + 3 * HOUR,
                "variant": "B",
            },
            {
                **base,
                "customer": "c",
                "run": "r3",
                "to_node": "start",
                "cause": "entered",
                "at": T0 + 6 * 24 * HOUR,
            },
        ],
    )
    archive.append(
        "conversion",
        [{**base, "customer": "a", "run": "r1", "goal": "order", "value": 20.0, "at": T0 + 2 * HOUR}],
    )
    archive.append(
        "event",
        [
            {
                "customer": "a",
                "event": "order",
                "timestamp": T0,
                "properties": {"total": 20, "channel": "web"},
            },
            {"customer": "b", "event": "order", "timestamp": T0 + HOUR, "properties": {"total": 5}},
        ],
    )
    return archive


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(
            "SELECT t.run, c.run AS converted_run FROM transition t LEFT JOIN conversion c ON c.run = t.run "
            "WHERE t.to_node = 'start' ORDER BY t.run",
            [
                {"run": "r1", "converted_run": "r1"},
                {"run": "r2", "converted_run": None},
                {"run": "r3", "converted_run": None},
            ],
            id="outer-join-gives-null",
        ),
        pytest.param(
            'SELECT run, to_node, row_number() OVER (PARTITION BY run ORDER BY "at") AS step FROM transition '
            "WHERE run = 'r2' ORDER BY step",
            [{"run": "r2", "to_node": "start", "step": 1}, {"run": "r2", "to_node": "sms", "step": 2}],
            id="window-row-number",
        ),
        pytest.param(
            "SELECT median(date_diff('second', e.at, l.at)) AS median_s, "
            "quantile_cont(date_diff('second', e.at, l.at), 0.25) AS q1 "
            "FROM transition e JOIN transition l ON l.run = e.run AND l.from_node = e.to_node",
            [{"median_s": 2 * HOUR, "q1": 1.5 * HOUR}],  # exact and interpolated: 1h and 3h
            id="exact-median",
        ),
        pytest.param(
            "SELECT count(*) FILTER (WHERE variant IS NULL) AS unassigned, count(DISTINCT variant) AS arms, "
            "sum(version) AS versions FROM transition",
            [{"unassigned": 3, "arms": 2, "versions": 5}],
            id="filter-and-distinct",
        ),
        pytest.param(
            "SELECT customer, json_extract_string(properties, '$.channel') AS channel, "
            "CAST(json_extract(properties, '$.total') AS DOUBLE) AS total FROM event ORDER BY customer",
            [
                {"customer": "a", "channel": "web", "total": 20.0},
                {"customer": "b", "channel": None, "total": 5.0},
            ],
            id="json-properties",
        ),
        pytest.param(
            "SELECT CAST(date_trunc('week', \"at\") AS DATE) AS week, count(*) AS n FROM transition "
            "WHERE to_node = 'start' GROUP BY week ORDER BY week",
            [{"week": date(2026, 11, 16), "n": 2}, {"week": date(2026, 11, 23), "n": 1}],  # ISO weeks: Monday
            id="week-truncation",
        ),
        pytest.param(
            'SELECT epoch("at") AS seconds, "at" + INTERVAL 1 DAY AS next_day FROM conversion',
            [{"seconds": T0 + 2 * HOUR, "next_day": datetime(2026, 11, 19, 14, tzinfo=UTC)}],
            id="epoch-and-interval",
        ),
        pytest.param(
            "SELECT count(*) AS n, count(DISTINCT run) AS runs FROM decision",
            [{"n": 0, "runs": 0}],
            id="empty-table",
        ),
        pytest.param(
            "WITH starts AS (SELECT run FROM transition WHERE cause = 'entered') "
            "SELECT count(*) AS n, CAST(count(*) AS DOUBLE) / NULLIF(0, 0) AS none FROM starts",
            [{"n": 3, "none": None}],
            id="cte-and-division-by-null",
        ),
    ],
)
def test_engines_give_the_hand_computed_answer(
    archive: Archive, engine_name: str, sql: str, expected: list[dict[str, object]]
) -> None:
    result = open_engine(archive, engine_name).query(sql)
    assert result.to_pylist() == expected


def test_both_engines_return_the_same_arrow_types(archive: Archive) -> None:
    sql = (
        'SELECT run, count(*) AS n, max("at") AS last, avg(version) AS mean_version FROM transition '
        "GROUP BY run ORDER BY run"
    )
    duck, click = (open_engine(archive, name).query(sql) for name in ENGINES)
    assert duck.schema.equals(click.schema)
    assert duck.schema.field("n").type == pa.int64()
    assert duck.schema.field("last").type == pa.timestamp("us", tz="UTC")
    assert duck.equals(click)


def test_tables_see_files_appended_after_the_engine_opened(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    engines = [open_engine(archive, name) for name in ENGINES]
    for engine in engines:
        assert engine.query("SELECT count(*) AS n FROM conversion").to_pylist() == [{"n": 0}]
    archive.append("conversion", [{"run": "r1", "at": T0}])
    for engine in engines:
        assert engine.query("SELECT count(*) AS n FROM conversion").to_pylist() == [{"n": 1}]


def test_clickhouse_sql_reads_the_archive_and_computes_exact_quantiles() -> None:
    text = clickhouse_sql("SELECT median(x) AS m FROM transition", {"transition": "SELECT 1 AS x"})
    assert "quantileExactInclusive(0.5)(x)" in text
    assert "FROM (SELECT 1 AS x) AS transition" in text
    assert "join_use_nulls = 1" in text


def test_errors_name_the_engine_and_show_the_query(archive: Archive) -> None:
    for name in ENGINES:
        with pytest.raises(QueryFailed, match=name) as caught:
            open_engine(archive, name).query("SELECT no_such_column FROM transition")
        assert "no_such_column" in caught.value.sql
    with pytest.raises(UnknownEngine, match="choose one of duckdb, clickhouse"):
        open_engine(archive, "spark")
