"""The identity graph: identify and alias calls link identifiers, and linked customers merge.

Theory of operation
-------------------
* Every customer is created for one identifier, its *anchor*, and is named after it (`customer_id`), so
  the same history gives the same customer ids on every replay and in every store.
* A call brings a set of identifiers seen together. Each identifier is either held by a customer or new;
  a new one counts as a customer of its own that holds no data yet. The call tries to join them all.
* The join starts from the group holding the call's strongest identifier (the one the message is about:
  the user id if it has one) and takes the other groups strongest-anchor first. A group that would give the
  customer two user ids, or more identifiers of a kind than the rules' cap, is refused and stays apart; a
  refused new identifier becomes a customer of its own, so it still resolves somewhere and nothing is lost.
* Of the groups that join, the one with the strongest anchor survives (user id before email before phone
  before custom ids before anonymous ids; equal kinds by value). The rule looks only at which identifiers
  are linked, never at arrival order or clocks, so when no link is refused any order of the same calls gives
  the same customers, the same survivors and the same ids. (When evidence conflicts, the link processed
  first wins; the runtime processes identity calls in log order, so a replay still decides the same way.)
* Every fold of an existing customer into another is a Merge, which the caller writes to the event log
  and uses to move the merged customer's data (profile.py, journeys.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from rumbo.errors import RumboError
from rumbo.identity.events import Cause, Merge, Refusal, Resolution
from rumbo.identity.identifiers import ANONYMOUS_ID, USER_ID, Identifier, identifier
from rumbo.identity.rules import IdentityRules
from rumbo.identity.store import IdentityStore, MemoryIdentityStore


class NoIdentifiers(RumboError):
    """An identify or alias call carried no identifier, so it cannot name a customer."""

    def __init__(self, input: str) -> None:
        self.input = input
        super().__init__(f"message {input!r} carries no identifier; send at least a userId or an anonymousId")


def customer_id(anchor: Identifier) -> str:
    """The id of the customer created for `anchor`: stable across replays and stores."""
    digest = hashlib.blake2b(f"{anchor.kind}\x1f{anchor.value}".encode(), digest_size=10).hexdigest()
    return "c" + digest


@dataclass(slots=True)
class _Group:
    """A customer taking part in one call, or a new identifier standing in for one (customer None)."""

    customer: str | None
    anchor: Identifier
    identifiers: frozenset[Identifier]


class IdentityGraph:
    """Resolves identifiers to customers and merges customers, under `rules`, over any IdentityStore."""

    def __init__(self, store: IdentityStore | None = None, rules: IdentityRules | None = None) -> None:
        self.store: IdentityStore = store if store is not None else MemoryIdentityStore()
        self.rules = rules or IdentityRules()

    def resolve(self, identifier: Identifier) -> str | None:
        """The customer holding `identifier`, or None if it was never linked."""
        return self.store.customer_of(identifier)

    def previous(self, previous_id: str) -> Identifier:
        """The identifier an alias call's `previousId` names: a known user id, or else an anonymous id."""
        as_user = identifier(USER_ID, previous_id)
        return (
            as_user if self.store.customer_of(as_user) is not None else identifier(ANONYMOUS_ID, previous_id)
        )

    def identify(self, identifiers: Iterable[Identifier], *, input: str, at: float) -> Resolution:
        """Link identifiers seen together in one message (user id, anonymous id, email, phone, custom)."""
        return self._link(identifiers, "identify", input, at)

    def alias(self, previous: Identifier, new: Identifier, *, input: str, at: float) -> Resolution:
        """Say that `previous` and `new` are one person (Segment's alias: previousId and userId)."""
        return self._link((previous, new), "alias", input, at)

    def _link(self, identifiers: Iterable[Identifier], cause: Cause, input: str, at: float) -> Resolution:
        distinct = set(identifiers)
        if not distinct:
            raise NoIdentifiers(input)
        # Most calls repeat what the graph already knows: every identifier held by one customer.
        owners = {self.store.customer_of(i) for i in distinct}
        if len(owners) == 1 and (owner := owners.pop()) is not None:
            return Resolution(owner)
        via = tuple(sorted(distinct, key=lambda i: i.rank))
        groups = self._groups(via)
        start = next(g for g in groups if via[0] in g.identifiers)
        joined, refused = [start], []
        held = set(start.identifiers)
        for group in sorted((g for g in groups if g is not start), key=lambda g: g.anchor.rank):
            problem = self.rules.violation(held | group.identifiers)
            if problem is None:
                joined.append(group)
                held |= group.identifiers
            else:
                refused.append((group, problem))

        store, created = self.store, []
        top = min(joined, key=lambda g: g.anchor.rank)
        survivor = top.customer
        if survivor is None:
            survivor = customer_id(top.anchor)
            store.create(survivor, top.anchor)
            created.append(survivor)
        merges = []
        for group in joined:
            if group is top:
                continue
            if group.customer is None:
                store.attach(survivor, group.identifiers)
            else:
                moved = tuple(sorted(group.identifiers, key=lambda i: i.rank))
                store.fold(group.customer, survivor)
                merges.append(Merge(survivor, group.customer, moved, cause, via, input, at))
        refusals = []
        for group, (reason, detail) in refused:
            apart = group.customer
            if apart is None:
                apart = customer_id(group.anchor)
                store.create(apart, group.anchor)
                created.append(apart)
            ids = tuple(sorted(group.identifiers, key=lambda i: i.rank))
            refusals.append(Refusal(survivor, apart, ids, reason, detail, input, at))
        return Resolution(survivor, tuple(created), tuple(merges), tuple(refusals))

    def _groups(self, identifiers: tuple[Identifier, ...]) -> list[_Group]:
        store = self.store
        groups: dict[str, _Group] = {}
        fresh: list[_Group] = []
        for one in identifiers:
            owner = store.customer_of(one)
            if owner is None:
                fresh.append(_Group(None, one, frozenset((one,))))
            elif owner not in groups:
                groups[owner] = _Group(owner, store.anchor_of(owner), store.identifiers_of(owner))
        return [*groups.values(), *fresh]
