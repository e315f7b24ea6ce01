"""Columns from anywhere turned into the archive's types: the one place that knows the mapping.

Times become ``timestamp[us, UTC]``: Arrow timestamps of any unit (naive ones are read as UTC), epoch
seconds, dates, or ISO 8601 text. JSON columns become JSON text. Everything else is a checked cast, so a bad
value is reported with its column instead of silently turning into a null.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from rumbo.errors import AnalyticsError
from rumbo.records import FieldType

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
_ARROW: Final[dict[str, pa.DataType]] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "timestamp": TIMESTAMP,
    "json": pa.string(),
}


class ColumnInvalid(AnalyticsError):
    """A column's values cannot be read as the type the archive stores."""


def arrow_type(ftype: FieldType) -> pa.DataType:
    """The Arrow type the archive stores a field type as."""
    return _ARROW[ftype]


def to_column(column: pa.ChunkedArray | pa.Array, ftype: FieldType, *, where: str) -> pa.Array:
    """``column`` as the archive's type for ``ftype``; ``where`` names the column in errors."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if ftype == "timestamp":
        return to_timestamp_column(array, where=where)
    if ftype == "json":
        return _to_json_text(array)
    target = _ARROW[ftype]
    if array.type == target:
        return array
    try:
        return pc.cast(array, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ColumnInvalid(f"{where}: cannot read {array.type} values as {ftype}: {exc}") from exc


def to_timestamp_column(array: pa.Array, *, where: str) -> pa.Array:
    """``array`` as ``timestamp[us, UTC]``; numbers are epoch seconds, naive times are UTC."""
    kind = array.type
    try:
        if pa.types.is_timestamp(kind):
            if kind.tz is None:
                array = pc.assume_timezone(array, "UTC")
            return pc.cast(array, TIMESTAMP)
        if pa.types.is_date(kind):
            return pc.cast(pc.cast(array, pa.timestamp("s")), TIMESTAMP)
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            micros = pc.round(pc.multiply(pc.cast(array, pa.float64()), 1e6))
            return pc.cast(pc.cast(micros, pa.int64()), TIMESTAMP)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return _parse_iso(pc.cast(array, pa.string()), where)
        if pa.types.is_null(kind):
            return pa.nulls(len(array), TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ColumnInvalid(f"{where}: cannot read {kind} values as times: {exc}") from exc
    raise ColumnInvalid(
        f"{where}: {kind} is not a time type — give timestamps, epoch seconds or ISO 8601 text"
    )


def _parse_iso(array: pa.Array, where: str) -> pa.Array:
    """ISO 8601 text, with or without a UTC offset ('Z', '+02:00'); text without one is read as UTC."""
    from datetime import UTC, datetime

    values: list[Any] = []
    for index, text in enumerate(array.to_pylist()):
        if text is None or text == "":
            values.append(None)
            continue
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ColumnInvalid(
                f"{where}, row {index}: {text!r} is not an ISO 8601 time such as '2026-11-23T09:30:00Z'"
            ) from None
        values.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return pa.array(values, TIMESTAMP)


def _to_json_text(array: pa.Array) -> pa.Array:
    if pa.types.is_string(array.type):
        return array
    if pa.types.is_large_string(array.type) or pa.types.is_null(array.type):
        return pc.cast(array, pa.string())
    return pa.array(
        [None if v is None else orjson.dumps(v, default=str).decode() for v in array.to_pylist()],
        pa.string(),
    )
