"""The runtime's profile tables: identity links, dead letters and the consent history, in SQL.

`SqlIdentityStore` is the identity graph's store (rumbo/identity/store.py) inside one open write
transaction, so the links an ingest batch makes commit together with its events: an event the API
acknowledged always resolves to the customer the graph said. An optional `IdentityCache` keeps known links
in memory between transactions; it learns a transaction's links only after that transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from rumbo.identity.identifiers import Identifier
from rumbo.ingest.errors import Issue
from rumbo.ingest.result import DeadLetter
from rumbo.store.base import ConsentEntry
from rumbo.store.sql import SqlStore, Tx


class IdentityCache:
    """Identifier -> customer links known to be committed. Safe for one process writing the database;
    with several ingesting processes on one PostgreSQL, run without it (another process may fold)."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self._owner: dict[Identifier, str] = {}
        self._limit = limit

    def get(self, identifier: Identifier) -> str | None:
        return self._owner.get(identifier)

    def learn(self, links: dict[Identifier, str]) -> None:
        if len(self._owner) + len(links) > self._limit:
            self._owner.clear()  # crude but bounded; links are reloaded from the database as needed
        self._owner.update(links)


class SqlIdentityStore:
    """The IdentityStore protocol over an open transaction of one workspace."""

    def __init__(self, tx: Tx, workspace: str, at: float, cache: IdentityCache | None = None) -> None:
        self._tx, self._ws, self._at, self._cache = tx, workspace, at, cache
        self.learned: dict[Identifier, str] = {}  # links read or written here, for the cache after commit

    def customer_of(self, identifier: Identifier) -> str | None:
        known = self.learned.get(identifier)
        if known is None and self._cache is not None:
            known = self._cache.get(identifier)
        if known is not None:
            return known
        rows = self._tx.rows(
            "SELECT customer FROM identities WHERE workspace = ? AND kind = ? AND value = ?",
            (self._ws, identifier.kind, identifier.value),
        )
        if not rows:
            return None
        self.learned[identifier] = rows[0][0]
        return str(rows[0][0])

    def identifiers_of(self, customer: str) -> frozenset[Identifier]:
        rows = self._tx.rows(
            "SELECT kind, value FROM identities WHERE workspace = ? AND customer = ?", (self._ws, customer)
        )
        return frozenset(Identifier(kind, value) for kind, value in rows)

    def anchor_of(self, customer: str) -> Identifier:
        rows = self._tx.rows(
            "SELECT anchor_kind, anchor_value FROM customers WHERE workspace = ? AND customer = ?",
            (self._ws, customer),
        )
        return Identifier(rows[0][0], rows[0][1])

    def create(self, customer: str, anchor: Identifier) -> None:
        self._tx.execute(
            "INSERT INTO customers (workspace, customer, anchor_kind, anchor_value, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (self._ws, customer, anchor.kind, anchor.value, self._at),
        )
        self.attach(customer, (anchor,))

    def attach(self, customer: str, identifiers: Iterable[Identifier]) -> None:
        for identifier in identifiers:
            self._tx.execute(
                "INSERT INTO identities (workspace, kind, value, customer) VALUES (?, ?, ?, ?)",
                (self._ws, identifier.kind, identifier.value, customer),
            )
            self.learned[identifier] = customer

    def fold(self, merged: str, survivor: str) -> None:
        moving = self.identifiers_of(merged)
        self._tx.execute(
            "UPDATE identities SET customer = ? WHERE workspace = ? AND customer = ?",
            (survivor, self._ws, merged),
        )
        self._tx.execute(
            "UPDATE customers SET merged_into = ? WHERE workspace = ? AND customer = ?",
            (survivor, self._ws, merged),
        )
        for identifier in moving:
            self.learned[identifier] = survivor


def identities_of(store: SqlStore, workspace: str, customer: str) -> list[Identifier]:
    """Every identifier a customer holds, strongest first (for the profile view)."""
    rows = store._query(
        "SELECT kind, value FROM identities WHERE workspace = ? AND customer = ?", (workspace, customer)
    )
    return sorted((Identifier(kind, value) for kind, value in rows), key=lambda i: i.rank)


def merged_into(store: SqlStore, workspace: str, customer: str) -> str | None:
    """The customer `customer` was merged into, following a chain of merges; None if it was not."""
    seen = {customer}
    current = customer
    while True:
        rows = store._query(
            "SELECT merged_into FROM customers WHERE workspace = ? AND customer = ?", (workspace, current)
        )
        if not rows or rows[0][0] is None:
            return None if current == customer else current
        current = str(rows[0][0])
        if current in seen:  # a cycle would be a bug elsewhere; stop rather than loop
            return current
        seen.add(current)


def _letter_blob(letter: DeadLetter) -> bytes:
    return orjson.dumps(
        {
            "rule": letter.rule,
            "record": letter.record,
            "message": letter.message,
            "reasons": [[issue.path, issue.message] for issue in letter.reasons],
        }
    )


def _letter(workspace: str, message_id: str, at: float, blob: bytes) -> DeadLetter:
    data = orjson.loads(blob)
    reasons = tuple(Issue(path, message) for path, message in data["reasons"])
    return DeadLetter(message_id, workspace, data["rule"], data["record"], data["message"], reasons, at)


class SqlDeadLetters:
    """The dead-letter store (rumbo/ingest/deadletters.py) in the `dead_letters` table."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def add(self, letter: DeadLetter) -> None:
        with self._store._write() as tx:
            add_letter(tx, letter)

    def letters(self, workspace: str, rule: str | None = None) -> list[DeadLetter]:
        query = "SELECT message_id, at, letter FROM dead_letters WHERE workspace = ?"
        params: list[str] = [workspace]
        if rule is not None:
            query += " AND rule = ?"
            params.append(rule)
        rows = self._store._query(query + " ORDER BY at, message_id", params)
        return [_letter(workspace, m, at, bytes(blob)) for m, at, blob in rows]

    def discard(self, workspace: str, ids: Iterable[str]) -> None:
        with self._store._write() as tx:
            for message_id in ids:
                tx.execute(
                    "DELETE FROM dead_letters WHERE workspace = ? AND message_id = ?", (workspace, message_id)
                )

    def counts(self, workspace: str) -> dict[str, int]:
        """Letters waiting per rule."""
        rows = self._store._query(
            "SELECT rule, COUNT(*) FROM dead_letters WHERE workspace = ? GROUP BY rule ORDER BY rule",
            (workspace,),
        )
        return {rule: int(n) for rule, n in rows}


def add_letter(tx: Tx, letter: DeadLetter) -> None:
    """Keep a letter inside an open transaction; the same message blocked again replaces its letter."""
    tx.execute(
        "INSERT INTO dead_letters (workspace, message_id, rule, at, letter) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (workspace, message_id) DO UPDATE SET rule = excluded.rule, at = excluded.at, "
        "letter = excluded.letter",
        (letter.workspace, letter.id, letter.rule, letter.at, _letter_blob(letter)),
    )


def consent_history(store: SqlStore, workspace: str, customer: str) -> list[ConsentEntry]:
    rows = store._query(
        "SELECT scope, granted, source, at FROM consent_log WHERE workspace = ? AND customer = ? ORDER BY id",
        (workspace, customer),
    )
    return [ConsentEntry(scope, bool(granted), source, at) for scope, granted, source, at in rows]
