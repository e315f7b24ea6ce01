"""Touchpoints and conversions from the archive, cut into paths to conversion inside a window.

Touchpoints are what reached a customer through a channel:
- events with a channel (Segment `track`, `page` and `screen` calls; their `channel`, and
  `context.campaign.name` for campaigns), except the conversion events themselves, and
- deliveries that arrived (`delivered`, `opened` or `clicked`; one touch per send, at its first such
  status), keyed by channel, by journey (which is also the campaign of a delivery) or by journey/node.

Conversions are the `conversion` records (each journey goal reached; the same customer converting at the
same moment in two journeys counts once), or the events of a named conversion event, valued by their
`revenue`, `value` or `total` property.

A conversion's path is the customer's touchpoints strictly before it and after their previous conversion,
no older than the window. A customer's touchpoints after their last conversion (no older than the window
before their last touch) form a path that did not convert. The SQL is written once in DuckDB's dialect
and only selects rows; the cutting into paths is vectorised numpy, the same for every engine.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rumbo.analytics.attribution.paths import FloatArray, PathSet
from rumbo.analytics.engines import QueryEngine
from rumbo.errors import AnalyticsError

By = Literal["channel", "campaign", "journey", "node"]
BY: Final = ("channel", "campaign", "journey", "node")
TOUCH_STATUSES: Final = ("delivered", "opened", "clicked")
EVENT_TOUCH_TYPES: Final = ("track", "page", "screen")
VALUE_PROPERTIES: Final = ("revenue", "value", "total")

# What names a touchpoint, per `--by`, for events and for deliveries; None: that source has no such key.
_EVENT_KEY: Final[dict[str, str | None]] = {
    "channel": "channel",
    "campaign": "json_extract_string(context, '$.campaign.name')",
    "journey": None,
    "node": None,
}
_DELIVERY_KEY: Final[dict[str, str]] = {
    "channel": "channel",
    "campaign": "journey",
    "journey": "journey",
    "node": "concat(journey, '/', node)",
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"


def touchpoints_sql(by: str, exclude_event: str | None = None) -> str:
    """Customer, time (epoch seconds) and key of every touchpoint."""
    if by not in BY:
        raise AnalyticsError(f"cannot attribute by {by!r}; choose one of {', '.join(BY)}")
    parts = []
    event_key = _EVENT_KEY[by]
    if event_key is not None:
        # The conversion itself is not a touchpoint: skip the named conversion event, or else every event
        # that is some journey's goal.
        skip = (
            f" AND (event IS NULL OR event <> {_literal(exclude_event)})"
            if exclude_event
            else " AND (event IS NULL OR event NOT IN (SELECT goal FROM conversion WHERE goal IS NOT NULL))"
        )
        parts.append(
            f"""SELECT customer, epoch("timestamp") AS t, {event_key} AS key
            FROM event
            WHERE customer IS NOT NULL AND "timestamp" IS NOT NULL AND type IN {_in(EVENT_TOUCH_TYPES)}
              AND {event_key} IS NOT NULL{skip}"""
        )
    delivery_key = _DELIVERY_KEY[by]
    parts.append(
        f"""SELECT customer, epoch(min("at")) AS t, {delivery_key} AS key
        FROM delivery
        WHERE customer IS NOT NULL AND status IN {_in(TOUCH_STATUSES)} AND {delivery_key} IS NOT NULL
        GROUP BY customer, send, {delivery_key}"""
    )
    return "\nUNION ALL\n".join(parts)


def conversions_sql(conversion_event: str | None = None, goal: str | None = None) -> str:
    """Customer, time and value of every conversion: conversion records, or a named event."""
    if conversion_event is not None:
        values = ", ".join(f"CAST(json_extract(properties, '$.{p}') AS DOUBLE)" for p in VALUE_PROPERTIES)
        return f"""SELECT customer, epoch("timestamp") AS t, coalesce({values}, 0.0) AS value
        FROM event
        WHERE customer IS NOT NULL AND "timestamp" IS NOT NULL AND type = 'track'
          AND event = {_literal(conversion_event)}"""
    where = f" AND goal = {_literal(goal)}" if goal is not None else ""
    # One goal reached by one customer at one moment is one conversion, however many journeys recorded it.
    return f"""SELECT customer, epoch("at") AS t, max(coalesce(value, 0.0)) AS value
    FROM conversion
    WHERE customer IS NOT NULL AND "at" IS NOT NULL{where}
    GROUP BY customer, "at", goal"""


def paths_from_archive(
    engine: QueryEngine,
    *,
    by: str = "channel",
    window: float = 30 * 86400.0,
    conversion_event: str | None = None,
    goal: str | None = None,
) -> PathSet:
    """Read touchpoints and conversions through `engine` and cut them into paths."""
    touches = engine.query(touchpoints_sql(by, exclude_event=conversion_event))
    conversions = engine.query(conversions_sql(conversion_event, goal))
    return build_paths(touches, conversions, window)


def build_paths(touches: pa.Table, conversions: pa.Table, window: float) -> PathSet:
    """Cut touchpoints (customer, t, key) into paths ending at conversions (customer, t, value).

    Touches and conversions are sorted together by customer and time (a conversion before a touch at the
    same instant, so a touch never counts towards a conversion it did not precede); each touch then
    belongs to the next conversion of the same customer, or to the customer's open, unconverted path.
    """
    if not window > 0:
        raise AnalyticsError(f"conversion window {window!r} must be a positive number of seconds, e.g. 30d")
    key_names = pc.unique(touches.column("key")).to_pylist() if touches.num_rows else []
    keys = tuple(sorted(str(k) for k in key_names))
    key_index = pa.array(keys, pa.string())
    touch_key = np.asarray(
        pc.index_in(touches.column("key"), value_set=key_index).to_numpy(zero_copy_only=False)
    )

    customers = pa.chunked_array(
        [*touches.column("customer").chunks, *conversions.column("customer").chunks], type=pa.string()
    )
    customer_code = np.asarray(
        pc.dictionary_encode(customers).combine_chunks().indices.to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    n_touch, n_conv = touches.num_rows, conversions.num_rows
    times = np.concatenate([_floats(touches, "t"), _floats(conversions, "t")])
    is_conv = np.concatenate([np.zeros(n_touch, dtype=np.int64), np.ones(n_conv, dtype=np.int64)])
    tie_key = np.concatenate([touch_key.astype(np.int64), np.full(n_conv, -1, dtype=np.int64)])
    conv_value = _floats(conversions, "value")
    order = np.lexsort((tie_key, 1 - is_conv, times, customer_code))

    s_customer = customer_code[order]
    s_time = times[order]
    s_conv = is_conv[order].astype(bool)
    conv_rank = np.cumsum(s_conv)  # conversions at or before each position (in sorted order)
    conv_positions = np.flatnonzero(s_conv)
    conv_customer = s_customer[conv_positions]
    conv_time = s_time[conv_positions]
    conv_values = conv_value[order[conv_positions] - n_touch]

    touch_pos = np.flatnonzero(~s_conv)
    t_customer = s_customer[touch_pos]
    t_time = s_time[touch_pos]
    t_key = tie_key[order[touch_pos]]
    nxt = conv_rank[touch_pos]  # index of the next conversion in sorted order, if it is this customer's
    n_c = conv_positions.size
    if n_c:
        nxt_c = np.minimum(nxt, n_c - 1)
        converting = (nxt < n_c) & (conv_customer[nxt_c] == t_customer)
        age = np.where(converting, conv_time[nxt_c] - t_time, 0.0)
    else:
        converting = np.zeros(t_time.size, dtype=bool)
        age = np.zeros(t_time.size)

    # Unconverted touches: the window runs back from the customer's last touch.
    last_touch = np.full(int(customer_code.max()) + 1 if customer_code.size else 0, -np.inf)
    np.maximum.at(last_touch, t_customer[~converting], t_time[~converting])
    age = np.where(converting, age, last_touch[t_customer] - t_time)
    keep = age <= window
    path_id = np.where(converting, nxt, n_c + t_customer)[keep]
    t_key, age = t_key[keep], age[keep]

    by_path = np.argsort(path_id, kind="stable")  # keeps time order inside each path
    path_id, t_key, age = path_id[by_path], t_key[by_path], age[by_path]
    distinct, counts = np.unique(path_id, return_counts=True)
    converted_path = distinct < n_c
    conversions_per_path = converted_path.astype(np.float64)
    values_per_path = np.zeros(distinct.size)
    values_per_path[converted_path] = conv_values[distinct[converted_path]]
    touched = np.zeros(n_c, dtype=bool)
    touched[distinct[converted_path]] = True
    return PathSet(
        keys=keys,
        codes=t_key.astype(np.int64),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        conversions=conversions_per_path,
        nulls=1.0 - conversions_per_path,
        values=values_per_path,
        ages=age.astype(np.float64),
        unattributed_conversions=float((~touched).sum()),
        unattributed_value=float(conv_values[~touched].sum()),
    )


def _floats(table: pa.Table, name: str) -> FloatArray:
    column = table.column(name)
    if column.null_count:
        column = pc.fill_null(column, 0.0)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
