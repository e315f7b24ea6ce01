"""Lifetime value written back to the profiles, through the same door as every trait: an identify event.

Each scored customer gets one identify event (built by rumbo/analytics/clv/traits.py:
`clv_expected_purchases`, `clv_probability_alive`, `clv_expected_value`, `clv_computed_at`) appended
straight to that customer's log, and the worker applies it like any identify, so the traits land on the
profile in log order and journeys can branch on them (`profile.traits.clv_expected_value > 100`). The
customer is known already, so the event skips identity resolution and carries no userId; a customer the
archive names is found by its customer id (following merges to the survivor) or, for archives imported
with user ids, by its user id.

The events and an audit entry (kind `traits`, name `clv`) commit in one transaction. The messageId derives
from the customer and the computation time, so writing the same result twice stores it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from rumbo.analytics.clv.analysis import ClvResult
from rumbo.analytics.clv.traits import TRAITS, identify_events
from rumbo.identity.identifiers import USER_ID
from rumbo.store.base import NewEvent
from rumbo.store.catalog import Actor, CatalogStore
from rumbo.store.profiles import merged_into
from rumbo.store.sql import SqlStore

_CHUNK = 500
_SHOWN = 20  # unknown customers named in the answer; the count covers them all


@dataclass(slots=True)
class TraitsWritten:
    """What a write did: customers scored, identify events new in the log, and archive customers the store
    does not know (an archive from elsewhere, say)."""

    workspace: str
    customers: int
    written: int
    repeated: int
    unknown: int
    computed_at: str
    unknown_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "traits": list(TRAITS),
            "customers": self.customers,
            "written": self.written,
            "repeated": self.repeated,
            "unknown": self.unknown,
            "unknown_examples": self.unknown_examples,
            "computed_at": self.computed_at,
        }


def write_clv_traits(
    store: SqlStore, workspace: str, result: ClvResult, *, actor: Actor, at: float
) -> TraitsWritten:
    """Append each scored customer's CLV traits to their log, audited; see the module docstring."""
    current = current_customers(store, workspace, result.summary.customers)
    computed_at = result.computed_at.isoformat().replace("+00:00", "Z")
    events: list[NewEvent] = []
    unknown: list[str] = []
    when = result.computed_at.timestamp()
    for message in identify_events(result):
        archived = str(message.pop("userId"))
        customer = current.get(archived)
        if customer is None:
            unknown.append(archived)
            continue
        events.append(NewEvent(str(message["messageId"]), customer, when, at, orjson.dumps(message)))
    detail = {
        "model": result.model.name,
        "horizon": result.horizon,
        "computed_at": computed_at,
        "customers": len(result.summary.customers),
        "unknown": len(unknown),
    }
    new = CatalogStore(store).append_audited(
        workspace, events, kind="traits", name="clv", action="write", detail=detail, actor=actor, at=at
    )
    written = sum(new)
    return TraitsWritten(
        workspace,
        len(result.summary.customers),
        written,
        len(new) - written,
        len(unknown),
        computed_at,
        unknown[:_SHOWN],
    )


def current_customers(store: SqlStore, workspace: str, ids: Sequence[str]) -> dict[str, str]:
    """For each id the archive names, the customer that holds its profile now: the customer of that id
    (or the one it was merged into), else the customer with that user id. Ids found neither way are left
    out."""
    found: dict[str, str] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = store._query(
            f"SELECT customer, merged_into FROM customers WHERE workspace = ? AND customer IN ({marks})",
            (workspace, *chunk),
        )
        for customer, merged in rows:
            found[customer] = (
                customer if merged is None else merged_into(store, workspace, customer) or merged
            )
        rest = [c for c in chunk if c not in found]
        if rest:
            rows = store._query(
                "SELECT value, customer FROM identities WHERE workspace = ? AND kind = ? "
                f"AND value IN ({', '.join('?' * len(rest))})",
                (workspace, USER_ID, *rest),
            )
            found.update((value, customer) for value, customer in rows)
    return found
