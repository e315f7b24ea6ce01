"""Query engines over the archive: DuckDB in process by default, ClickHouse for scale — one SQL for both.

Every analysis is written once, in DuckDB's dialect, against six tables named after the record kinds
(event, transition, decision, suppression, delivery, conversion). ``DuckDBEngine`` runs it as written over
views of the Parquet files. ``ClickHouseEngine`` transpiles it with SQLGlot to ClickHouse's dialect, repairs
the few constructs SQLGlot leaves unportable (see ``clickhouse_sql``), reads the same files with ClickHouse's
``file()`` table function and runs it on chDB, ClickHouse's embedded build, so the SQL that runs on a
ClickHouse cluster is tested here without one.

Both engines return Arrow tables with the same types (``normalise``): ClickHouse's unsigned counts and
non-nullable columns would otherwise make equal answers look different.
"""

from __future__ import annotations

from typing import Final, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from rumbo.analytics.archive import Archive
from rumbo.analytics.convert import TIMESTAMP
from rumbo.errors import AnalyticsError
from rumbo.records import FIELDS, FieldType

ENGINES: Final = ("duckdb", "clickhouse")

_DUCKDB_TYPES: Final[dict[FieldType, str]] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "timestamp": "TIMESTAMPTZ",
    "json": "VARCHAR",
}
_CLICKHOUSE_TYPES: Final[dict[FieldType, str]] = {
    "string": "Nullable(String)",
    "int": "Nullable(Int64)",
    "float": "Nullable(Float64)",
    "timestamp": "Nullable(DateTime64(6, \\'UTC\\'))",  # written inside a quoted ClickHouse string
    "json": "Nullable(String)",
}
# Settings that make ClickHouse answer like a SQL database: outer joins give NULL (not 0 or ''), a column
# name wins over a same-named alias, times are UTC, a missing JSON key is NULL.
_CLICKHOUSE_SETTINGS: Final = (
    "join_use_nulls = 1, prefer_column_name_to_alias = 1, session_timezone = 'UTC', "
    "allow_experimental_analyzer = 1, function_json_value_return_type_allow_nullable = 1"
)


class QueryFailed(AnalyticsError):
    """An engine rejected or failed to run a query."""

    def __init__(self, engine: str, sql: str, reason: str) -> None:
        self.engine = engine
        self.sql = sql
        self.reason = reason
        super().__init__(f"{engine} could not run the analysis query: {reason}\n--- query ---\n{sql}")


class UnknownEngine(AnalyticsError):
    """The engine name is not one rumbo knows."""


class QueryEngine(Protocol):
    """Runs DuckDB-dialect SQL over the archive's tables and returns an Arrow table."""

    name: str

    def query(self, sql: str) -> pa.Table:
        """The result of ``sql`` (DuckDB dialect) with normalised types."""
        ...


def open_engine(archive: Archive, name: str = "duckdb") -> QueryEngine:
    """An engine over ``archive``: "duckdb" (default, in process) or "clickhouse" (chDB)."""
    if name == "duckdb":
        return DuckDBEngine(archive)
    if name == "clickhouse":
        return ClickHouseEngine(archive)
    raise UnknownEngine(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


class DuckDBEngine:
    """DuckDB in process, over views that read the archive's Parquet files when a query runs."""

    name = "duckdb"

    def __init__(self, archive: Archive, threads: int | None = None) -> None:
        import duckdb

        self.archive = archive
        self._duckdb = duckdb
        self._connection = duckdb.connect(":memory:")
        self._connection.execute("SET TimeZone = 'UTC'")
        if threads is not None:
            self._connection.execute(f"SET threads = {int(threads)}")
        self._has_files: dict[str, bool] = {}

    def query(self, sql: str) -> pa.Table:
        """Run ``sql`` as written; the views are refreshed when a kind gets its first files."""
        self._refresh_views()
        try:
            result = self._connection.sql(sql).to_arrow_table()
        except self._duckdb.Error as exc:
            raise QueryFailed(self.name, sql, str(exc).strip()) from exc
        return normalise(result)

    def _refresh_views(self) -> None:
        for kind, fields in FIELDS.items():
            has_files = bool(self.archive.files(kind))
            if self._has_files.get(kind) == has_files:
                continue
            columns = ", ".join(f'CAST("{n}" AS {_DUCKDB_TYPES[t]}) AS "{n}"' for n, t in fields.items())
            if has_files:
                pattern = self.archive.glob(kind).replace("'", "''")
                source = f"read_parquet('{pattern}', hive_partitioning = false, union_by_name = true)"
                body = f"SELECT {columns} FROM {source}"
            else:
                nulls = ", ".join(f'CAST(NULL AS {_DUCKDB_TYPES[t]}) AS "{n}"' for n, t in fields.items())
                body = f"SELECT {nulls} WHERE false"
            self._connection.execute(f'CREATE OR REPLACE VIEW "{kind}" AS {body}')
            self._has_files[kind] = has_files


class ClickHouseEngine:
    """The same SQL transpiled to ClickHouse and run on chDB over the same Parquet files."""

    name = "clickhouse"

    def __init__(self, archive: Archive) -> None:
        import chdb

        self.archive = archive
        self._chdb = chdb

    def query(self, sql: str) -> pa.Table:
        """Transpile ``sql`` from DuckDB's dialect, read the archive through ``file()``, run on chDB."""
        translated = self.translate(sql)
        try:
            result = self._chdb.query(translated, "ArrowTable")  # type: ignore[no-untyped-call]
        except Exception as exc:  # chDB raises its own ChdbError, or RuntimeError from the native side
            raise QueryFailed(self.name, translated, str(exc).strip()) from exc
        return normalise(result)

    def translate(self, sql: str) -> str:
        """The ClickHouse SQL that ``query`` runs for ``sql``: table names become reads of the archive."""
        sources = {kind: self._source(kind) for kind in FIELDS}
        return clickhouse_sql(sql, sources)

    def _source(self, kind: str) -> str:
        fields = FIELDS[kind]
        if self.archive.files(kind):
            structure = ", ".join(f"`{n}` {_CLICKHOUSE_TYPES[t]}" for n, t in fields.items())
            pattern = self.archive.glob(kind).replace("'", "\\'")
            return f"SELECT * FROM file('{pattern}', Parquet, '{structure}')"
        nulls = ", ".join(f"CAST(NULL, '{_CLICKHOUSE_TYPES[t]}') AS `{n}`" for n, t in fields.items())
        return f"SELECT {nulls} LIMIT 0"


def clickhouse_sql(sql: str, sources: dict[str, str]) -> str:
    """DuckDB-dialect ``sql`` as ClickHouse SQL, with each table in ``sources`` replaced by its query.

    SQLGlot does the dialect work; this repairs what it leaves unportable: exact medians and quantiles
    (``quantileExactInclusive``, the same linear interpolation as DuckDB's ``quantile_cont``, where
    ClickHouse's ``median`` samples), epoch seconds with their microseconds (``epoch``) and whole
    microseconds (``epoch_us``), time types with UTC, and JSON
    values (NULL for a missing key, numbers as text), so ``json_extract_string`` means the same on both.
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise QueryFailed("clickhouse", sql, f"SQLGlot could not parse the query: {exc}") from exc
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    placeholders: dict[str, str] = {}

    def rewrite_leaves(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.db and node.name in sources and node.name not in ctes:
            key = f"__rumbo_source_{node.name}"
            placeholders[key] = sources[node.name]
            return exp.Table(this=exp.to_identifier(key), alias=exp.to_identifier(node.alias_or_name))
        if isinstance(node, exp.JSONExtractScalar | exp.JSONExtract) and isinstance(
            node.expression, exp.JSONPath
        ):
            return _json_value(node.this, node.expression.sql(dialect="duckdb"))
        if isinstance(node, exp.Select):
            # ClickHouse names a qualified column after a join "e.customer"; SQL names it "customer".
            node.set("expressions", [_named(projection) for projection in node.expressions])
            return node
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "epoch_us":
            return exp.Anonymous(this="toUnixTimestamp64Micro", expressions=node.expressions)
        if isinstance(node, exp.TimeToUnix):
            micros = exp.Anonymous(this="toUnixTimestamp64Micro", expressions=[node.this])
            return exp.Div(this=micros, expression=exp.Literal.number("1e6"))
        if isinstance(node, exp.DataType) and node.this in (
            exp.DataType.Type.TIMESTAMPTZ,
            exp.DataType.Type.TIMESTAMP,
        ):
            return exp.DataType.build("DateTime64(6, 'UTC')", dialect="clickhouse")
        return node

    def rewrite_quantiles(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.PercentileCont):
            return _exact_quantile(node.this, node.expression)
        if isinstance(node, exp.Median):
            return _exact_quantile(node.this, exp.Literal.number(0.5))
        return node

    # Two passes: a node built by a rewrite is not visited again, so arguments are rewritten first.
    tree = tree.transform(rewrite_leaves).transform(rewrite_quantiles)
    text = tree.sql(dialect="clickhouse")
    for key, source in placeholders.items():
        text = text.replace(key, f"({source})")
    return f"{text} SETTINGS {_CLICKHOUSE_SETTINGS}"


def _named(projection: exp.Expression) -> exp.Expression:
    if isinstance(projection, exp.Column) and projection.table and not isinstance(projection.this, exp.Star):
        return exp.Alias(this=projection.copy(), alias=exp.to_identifier(projection.name))
    return projection


def _json_value(document: exp.Expression, path: str) -> exp.Expression:
    # JSON_VALUE renders numbers as text like DuckDB's json_extract_string and, with the nullable setting,
    # gives NULL for a missing key where JSONExtractString gives ''; a JSON null comes back as 'null'.
    # A Nullable document makes JSON_VALUE return '' for a missing key, so a NULL document becomes ''.
    text = exp.Anonymous(this="ifNull", expressions=[document, exp.Literal.string("")])
    value = exp.Anonymous(this="JSON_VALUE", expressions=[text, exp.Literal.string(path.strip("'"))])
    return exp.Anonymous(this="nullIf", expressions=[value, exp.Literal.string("null")])


def _exact_quantile(value: exp.Expression, level: exp.Expression) -> exp.Expression:
    return exp.ParameterizedAgg(this="quantileExactInclusive", expressions=[level], params=[value])


def normalise(table: pa.Table) -> pa.Table:
    """One set of types for every engine: int64, float64, string, timestamp[us, UTC]; all nullable."""
    fields = []
    columns = []
    for column, field in zip(table.columns, table.schema, strict=True):
        target = _common_type(field.type)
        columns.append(column if target == field.type else pc.cast(column, target))
        fields.append(pa.field(field.name, target, nullable=True))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _common_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_integer(kind):
        return pa.int64()
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pa.float64()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_timestamp(kind):
        return TIMESTAMP
    if pa.types.is_dictionary(kind):
        return _common_type(kind.value_type)
    return kind
