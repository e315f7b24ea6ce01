"""The 360 view of one customer: identities, traits, consent with its history, the timeline of events
across channels, the journeys and runs with their current node, and every message sent or suppressed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from rumbo.identity.identifiers import ANONYMOUS_ID, USER_ID, Identifier
from rumbo.runtime.codec import decode
from rumbo.runtime.intake import is_runtime_note
from rumbo.store.profiles import consent_history, identities_of, merged_into
from rumbo.store.sql import SqlStore


def find_customer(store: SqlStore, workspace: str, who: str) -> str | None:
    """A customer id, or the customer holding an identifier: `kind:value` (email:a@b.c) or a bare user or
    anonymous id. A customer merged away answers with the one it was merged into."""
    candidates: list[Identifier] = []
    if ":" in who:
        kind, _, value = who.partition(":")
        candidates.append(Identifier(kind, value))
    candidates += [Identifier(USER_ID, who), Identifier(ANONYMOUS_ID, who)]
    for candidate in candidates:
        rows = store._query(
            "SELECT customer FROM identities WHERE workspace = ? AND kind = ? AND value = ?",
            (workspace, candidate.kind, candidate.value),
        )
        if rows:
            return str(rows[0][0])
    rows = store._query("SELECT 1 FROM customers WHERE workspace = ? AND customer = ?", (workspace, who))
    if rows or store.load_state(workspace, who) is not None:
        return merged_into(store, workspace, who) or who
    return None


def profile_view(store: SqlStore, workspace: str, customer: str, *, limit: int = 100) -> dict[str, Any]:
    stored = store.load_state(workspace, customer)
    state = decode(customer, stored.state) if stored else None
    timers = {(t.run, t.token): t.at for t in store.timers(workspace, customer)}
    runs = []
    if state is not None:
        for run in sorted(state.runs.values(), key=lambda r: r.entered_at):
            runs.append(
                {
                    "run": run.id,
                    "journey": run.journey,
                    "version": run.version,
                    "node": run.node,
                    "entered_at": run.entered_at,
                    "variant": run.variant,
                    "waiting_until": timers.get((run.id, run.timer)) if run.timer else None,
                }
            )
    timeline = []
    for message_id, at, message, processed_at in _customer_events(store, workspace, customer, limit):
        context = message.get("context") or {}
        timeline.append(
            {
                "messageId": message_id,
                "at": at,
                "type": message.get("type"),
                "event": message.get("event"),
                "channel": context.get("channel"),
                "properties": message.get("properties") or {},
                "processed": processed_at is not None,
            }
        )
    messages = [
        {
            "send": row[0],
            "status": row[1],
            "attempts": row[2],
            "at": row[3],
            "last_error": row[4],
            **{
                k: v
                for k, v in orjson.loads(row[5])["send"].items()
                if k in ("journey", "node", "channel", "template")
            },
        }
        for row in store._query(
            "SELECT key, status, attempts, created_at, last_error, body FROM outbox "
            "WHERE workspace = ? AND customer = ? ORDER BY created_at DESC LIMIT ?",
            (workspace, customer, limit),
        )
    ]
    suppressed = [r.data for r in store.records(workspace, customer) if r.kind == "suppression"][-limit:]
    return {
        "customer": customer,
        "workspace": workspace,
        "identities": [{"kind": i.kind, "value": i.value} for i in identities_of(store, workspace, customer)],
        "traits": state.traits if state else {},
        "tags": sorted(state.tags) if state else [],
        "segments": sorted(state.segments) if state else [],
        "consent": state.consent if state else {},
        "consent_history": [
            {"scope": c.scope, "granted": c.granted, "source": c.source, "at": c.at}
            for c in consent_history(store, workspace, customer)
        ],
        "runs": runs,
        "timeline": timeline,
        "messages": messages,
        "suppressed": suppressed,
    }


def _customer_events(
    store: SqlStore, workspace: str, customer: str, limit: int
) -> Iterator[tuple[str, float, dict[str, Any], float | None]]:
    """The customer's latest `limit` events, newest first, without the runtime's own notes (merges, segment
    and schedule notes), which are read past page by page."""
    found, offset, page = 0, 0, max(limit, 50)
    while found < limit:
        rows = store._query(
            "SELECT message_id, at, body, processed_at FROM events WHERE workspace = ? AND customer = ? "
            "ORDER BY at DESC, seq DESC LIMIT ? OFFSET ?",
            (workspace, customer, page, offset),
        )
        for message_id, at, body, processed_at in rows:
            message = orjson.loads(body)
            if is_runtime_note(message.get("type")):
                continue
            yield message_id, at, message, processed_at
            found += 1
            if found == limit:
                return
        if len(rows) < page:
            return
        offset += page
