"""From accepted messages to the event log: identity resolution and one durable append per batch.

Every message is resolved to its customer by the identity graph inside the same transaction that appends
it, so an acknowledged event is durable together with the links it made. A merge the graph performs is
written to the survivor's log as a `merge` message placed before the message that caused it, so the worker
merges the two customers' states first and then applies the message to the survivor: an identify followed
by a track is seen in that order, whatever the links did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from rumbo.identity import (
    IdentifierInvalid,
    IdentityGraph,
    IdentityRules,
    NoIdentifiers,
    identifier,
    identifiers_from_message,
)
from rumbo.identity.identifiers import USER_ID
from rumbo.ingest import Accepted, DeadLetter, Issue, Rejected
from rumbo.store.base import NewEvent
from rumbo.store.profiles import IdentityCache, SqlIdentityStore, add_letter
from rumbo.store.sql import SqlStore

MERGE = "merge"  # the type of the log message that tells the worker to merge a customer into another


def is_runtime_note(kind: object) -> bool:
    """Whether a log message of this type is the runtime's own note (fold two customers, judge segments, a
    schedule fired, move runs, an API start) rather than something the customer did."""
    return kind == MERGE or (isinstance(kind, str) and kind.startswith("rumbo:"))


@dataclass(slots=True)
class Intake:
    """What one append refused: the accepted messages identity resolution could not place; and which
    accepted messages the log already had (a resent messageId), for a caller that reports them."""

    rejected: list[tuple[int, Rejected]] = field(default_factory=list)  # (index in the input, why)
    duplicates: list[int] = field(default_factory=list)  # indexes in the input


def iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")


def merge_message(survivor: str, merged: str, cause: str, input: str, at: float) -> dict[str, Any]:
    return {
        "type": MERGE,
        "messageId": f"merge:{merged}:{input}",
        "survivor": survivor,
        "merged": merged,
        "cause": cause,
        "input": input,
        "timestamp": iso(at),
    }


def _resolve(graph: IdentityGraph, message: dict[str, Any], at: float) -> Any:
    input_id = str(message["messageId"])
    if message.get("type") == "alias" and message.get("previousId") and message.get("userId"):
        previous = graph.previous(str(message["previousId"]))
        return graph.alias(previous, identifier(USER_ID, message["userId"]), input=input_id, at=at)
    return graph.identify(identifiers_from_message(message), input=input_id, at=at)


def append_accepted(
    store: SqlStore,
    workspace: str,
    accepted: Sequence[Accepted],
    *,
    blocked: Sequence[DeadLetter] = (),
    rules: IdentityRules | None = None,
    cache: IdentityCache | None = None,
    received_at: float,
) -> Intake:
    """Resolve and append `accepted` (and keep `blocked` as dead letters) in one transaction."""
    intake = Intake()
    with store._write() as tx:
        identities = SqlIdentityStore(tx, workspace, received_at, cache)
        graph = IdentityGraph(identities, rules)
        events: list[NewEvent] = []
        sources: list[int] = []  # for each event, the index of its accepted message (-1: a merge)
        for index, item in enumerate(accepted):
            message, record = item.message, item.record
            at = float(record["timestamp"])
            try:
                resolution = _resolve(graph, message, at)
            except (IdentifierInvalid, NoIdentifiers) as exc:
                where = getattr(exc, "where", None) or "$"
                issue = Issue(item.path + where[1:], str(exc))
                intake.rejected.append((index, Rejected(item.path, (issue,), message)))
                continue
            customer = resolution.customer
            for merge in resolution.merges:
                body = merge_message(merge.survivor, merge.merged, merge.cause, merge.input, merge.at)
                events.append(
                    NewEvent(body["messageId"], merge.survivor, at, received_at, orjson.dumps(body))
                )
                sources.append(-1)
            events.append(
                NewEvent(
                    str(message["messageId"]),
                    customer,
                    at,
                    float(record["received_at"]),
                    orjson.dumps(message),
                )
            )
            sources.append(index)
        if events:
            new = store._append(tx, workspace, events)  # a resent messageId is kept once
            intake.duplicates = [i for i, fresh in zip(sources, new, strict=True) if i >= 0 and not fresh]
        for letter in blocked:
            add_letter(tx, letter)
    if cache is not None:
        cache.learn(identities.learned)
    return intake
