"""Analytics: what worked, for whom, and what to retire — over the Parquet archive of rumbo's records.

``Archive`` holds the records; ``open_engine`` runs SQL written once in DuckDB's dialect on DuckDB or,
transpiled, on ClickHouse. Each analysis returns a result object with ``to_dict()`` and ``to_table()``.
"""

from __future__ import annotations

from rumbo.analytics.archive import Archive, default_archive_path
from rumbo.analytics.engines import QueryEngine, open_engine

__all__ = ["Archive", "QueryEngine", "default_archive_path", "open_engine"]
