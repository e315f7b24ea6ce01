"""Lifetime value written back as computed traits that journeys can branch on.

Each customer's scores become one Segment ``identify`` event whose traits are:

- ``clv_expected_purchases``: purchases expected over the horizon;
- ``clv_probability_alive``: probability the customer is still a customer (0–1);
- ``clv_expected_value``: expected (discounted) value over the horizon, null when spend is not modelled;
- ``clv_computed_at``: when the scores were computed (ISO 8601, UTC).

The events go to a JSON-lines file that rumbo's ingestion takes like any other Segment batch, so the
traits land on the profile through the same door as everything else (validated, deduplicated, resolved).
The ``messageId`` is derived from the customer and the computation time: re-sending the same file is
deduplicated, while a new computation supersedes the old traits.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from rumbo import __version__
from rumbo.analytics.clv.analysis import ClvResult

TRAITS: Final = ("clv_expected_purchases", "clv_probability_alive", "clv_expected_value", "clv_computed_at")


def identify_events(result: ClvResult) -> Iterator[dict[str, Any]]:
    """One Segment identify event per customer of ``result``, in the result's order (most valuable first)."""
    computed_at = result.computed_at.isoformat().replace("+00:00", "Z")
    context = {
        "library": {"name": "rumbo", "version": __version__},
        "rumbo": {"analysis": "clv", "model": result.model.name, "horizon": result.horizon},
    }
    for index in result.ranking():
        customer = result.summary.customers[index]
        value = None if result.expected_value is None else _number(result.expected_value[index])
        digest = hashlib.sha1(f"clv\x00{customer}\x00{computed_at}".encode()).hexdigest()
        yield {
            "type": "identify",
            "messageId": f"clv-{digest[:32]}",
            "userId": customer,
            "timestamp": computed_at,
            "traits": {
                "clv_expected_purchases": _number(result.expected_purchases[index]),
                "clv_probability_alive": _number(result.probability_alive[index]),
                "clv_expected_value": value,
                "clv_computed_at": computed_at,
            },
            "context": context,
        }


def write_traits(result: ClvResult, path: str | Path) -> int:
    """Write the identify events to ``path`` as JSON lines, whole or not at all; returns how many."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    count = 0
    with temporary.open("wb") as handle:
        for event in identify_events(result):
            handle.write(orjson.dumps(event) + b"\n")
            count += 1
    temporary.replace(target)
    return count


def _number(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
