"""Where the identity graph keeps its links: a small protocol, and the in-memory implementation.

A database store implements the same six methods; the graph's rules live in graph.py and never touch
storage directly, so both stores resolve identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from rumbo.identity.identifiers import Identifier


class IdentityStore(Protocol):
    """Identifier -> customer links of one workspace; every customer holds at least its anchor."""

    def customer_of(self, identifier: Identifier) -> str | None:
        """The customer holding `identifier`, or None if it was never seen."""
        ...

    def identifiers_of(self, customer: str) -> frozenset[Identifier]:
        """Every identifier `customer` holds (empty for an unknown or merged-away customer)."""
        ...

    def anchor_of(self, customer: str) -> Identifier:
        """The identifier the customer was created for; it names the customer and ranks it in merges."""
        ...

    def create(self, customer: str, anchor: Identifier) -> None:
        """A new customer holding only `anchor`."""
        ...

    def attach(self, customer: str, identifiers: Iterable[Identifier]) -> None:
        """Give `customer` identifiers that no customer holds yet."""
        ...

    def fold(self, merged: str, survivor: str) -> None:
        """Move every identifier of `merged` to `survivor`; `merged` no longer exists afterwards."""
        ...


class MemoryIdentityStore:
    """The identity store in two dicts, for tests, replays and the embedded runtime's cache."""

    def __init__(self) -> None:
        self._owner: dict[Identifier, str] = {}
        self._held: dict[str, set[Identifier]] = {}
        self._anchor: dict[str, Identifier] = {}

    def customer_of(self, identifier: Identifier) -> str | None:
        return self._owner.get(identifier)

    def identifiers_of(self, customer: str) -> frozenset[Identifier]:
        return frozenset(self._held.get(customer, ()))

    def anchor_of(self, customer: str) -> Identifier:
        return self._anchor[customer]

    def create(self, customer: str, anchor: Identifier) -> None:
        if customer in self._held or anchor in self._owner:
            raise ValueError(f"customer {customer} or identifier {anchor} already exists")
        self._held[customer] = {anchor}
        self._anchor[customer] = anchor
        self._owner[anchor] = customer

    def attach(self, customer: str, identifiers: Iterable[Identifier]) -> None:
        held = self._held[customer]
        for identifier in identifiers:
            if identifier in self._owner:
                raise ValueError(f"identifier {identifier} is already held by {self._owner[identifier]}")
            held.add(identifier)
            self._owner[identifier] = customer

    def fold(self, merged: str, survivor: str) -> None:
        moving = self._held.pop(merged)
        del self._anchor[merged]
        self._held[survivor] |= moving
        for identifier in moving:
            self._owner[identifier] = survivor

    def customers(self) -> Iterator[str]:
        """Every existing customer (for tests and dumps; a database store would page through them)."""
        return iter(sorted(self._held))
