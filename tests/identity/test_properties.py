"""Properties of identity resolution over random histories of identify and alias calls.

* Order-independent: when no link is refused, every order of the same calls gives the same customers, and
  each customer is the one named after the strongest identifier of its connected component (an oracle
  computed here with a plain union-find, independently of the graph).
* Never merges two user ids and never exceeds a cap, whatever the calls.
* Loses nothing: with data on every customer and merges applied as the runtime would, every identifier,
  trait change and run ends up on exactly one surviving customer (or, for a run, is reported stopped once).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from rumbo.engine.state import Customer, Run
from rumbo.identity import (
    Identifier,
    IdentityGraph,
    IdentityRules,
    MemoryIdentityStore,
    Profile,
    TraitChange,
    customer_id,
    identifier,
    merge_customers,
    merge_profiles,
)
from tests.helpers import journey

Call = tuple[str, tuple[Identifier, ...]]  # ("identify" | "alias", identifiers)

JOURNEYS = {
    j.key: j
    for j in (
        journey(
            """
            journey: one
            events: {go: {}}
            entry: {event: go}
            nodes: {hold: {wait: {for: 1d}, next: end}, end: {exit: {}}}
            """
        ),
        journey(
            """
            journey: many
            events: {go: {}}
            concurrent_runs: true
            entry: {event: go}
            nodes: {hold: {wait: {for: 1d}, next: end}, end: {exit: {}}}
            """
        ),
    )
}


def pool(person: int) -> list[Identifier]:
    """One person's identifiers: at most one user id, three emails and three phones, so no cap is reached."""
    return [
        identifier("user_id", f"u{person}"),
        *(identifier("email", f"p{person}.{n}@x.io") for n in range(3)),
        *(identifier("phone", f"+3460000{person}{n:03d}") for n in range(3)),
        identifier("crm_id", f"C{person}"),
        *(identifier("anonymous_id", f"a{person}.{n}") for n in range(3)),
    ]


def calls_from(ids: st.SearchStrategy[Identifier]) -> st.SearchStrategy[Call]:
    identify = st.tuples(st.just("identify"), st.lists(ids, min_size=1, max_size=4).map(tuple))
    alias = st.tuples(st.just("alias"), st.tuples(ids, ids))
    return st.one_of(identify, alias)


@st.composite
def one_person_calls(draw: st.DrawFn) -> list[Call]:
    """Calls that each name one person's identifiers (several people in all): no conflict can arise."""
    people = draw(st.integers(1, 4))
    return draw(
        st.lists(
            st.integers(0, people - 1).flatmap(lambda p: calls_from(st.sampled_from(pool(p)))),
            min_size=1,
            max_size=14,
        )
    )


ANY_IDS = st.sampled_from([i for p in range(3) for i in pool(p)])
any_calls = st.lists(calls_from(ANY_IDS), min_size=1, max_size=24)


def play(calls: list[Call], rules: IdentityRules | None = None) -> tuple[IdentityGraph, int]:
    graph = IdentityGraph(MemoryIdentityStore(), rules)
    refused = 0
    for n, (cause, ids) in enumerate(calls):
        if cause == "alias":
            result = graph.alias(ids[0], ids[1], input=f"m{n}", at=float(n))
        else:
            result = graph.identify(ids, input=f"m{n}", at=float(n))
        refused += len(result.refusals)
    return graph, refused


def owners(graph: IdentityGraph, calls: list[Call]) -> dict[Identifier, str | None]:
    return {i: graph.resolve(i) for _, ids in calls for i in ids}


def components(calls: list[Call]) -> dict[Identifier, str]:
    """Oracle: each identifier -> customer_id of the strongest identifier linked to it by any path."""
    parent: dict[Identifier, Identifier] = {}

    def find(i: Identifier) -> Identifier:
        while parent.setdefault(i, i) != i:
            i = parent[i]
        return i

    for _, ids in calls:
        for other in ids[1:]:
            parent[find(other)] = find(ids[0])
    members: dict[Identifier, list[Identifier]] = {}
    for _, ids in calls:
        for i in ids:
            members.setdefault(find(i), []).append(i)
    return {i: customer_id(min(group, key=lambda x: x.rank)) for group in members.values() for i in group}


@settings(max_examples=150, deadline=None)
@given(one_person_calls(), st.randoms(use_true_random=False))
def test_without_conflicts_every_order_gives_the_same_customers(
    calls: list[Call], rnd: random.Random
) -> None:
    shuffled = list(calls)
    rnd.shuffle(shuffled)
    graph, refused = play(calls)
    again, refused_again = play(shuffled)
    assert refused == refused_again == 0
    assert owners(graph, calls) == owners(again, calls) == components(calls)


@settings(max_examples=150, deadline=None)
@given(any_calls, st.sampled_from([None, IdentityRules({"email": 2, "phone": 1})]))
def test_no_customer_ever_holds_two_user_ids_or_more_than_a_cap(
    calls: list[Call], rules: IdentityRules | None
) -> None:
    graph, _ = play(calls, rules)
    store = graph.store
    assert isinstance(store, MemoryIdentityStore)
    for customer in store.customers():
        kinds = Counter(i.kind for i in store.identifiers_of(customer))
        assert kinds["user_id"] <= 1
        for kind, count in kinds.items():
            cap = graph.rules.cap(kind)
            assert cap is None or count <= cap


@dataclass
class World:
    """Customers' data as the runtime would keep it, merged by the graph's Merge events."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    states: dict[str, Customer] = field(default_factory=dict)
    changes: list[TraitChange] = field(default_factory=list)
    runs: set[str] = field(default_factory=set)
    stopped: list[str] = field(default_factory=list)

    def create(self, customer: str, at: float) -> None:
        state = Customer(customer)
        name = "many" if int(customer[1:3], 16) % 2 else "one"
        run = Run(f"r-{customer}", name, 1, "hold", at, timer=1)
        state.runs, state.seq = {run.id: run}, 1
        self.states[customer] = state
        self.profiles[customer] = Profile(customer)
        self.runs.add(run.id)

    def change(self, customer: str, name: str, at: float, source: str) -> None:
        change = TraitChange(name, source, at, source)
        self.profiles[customer] = self.profiles[customer].with_traits([change])
        self.changes.append(change)


@settings(max_examples=150, deadline=None)
@given(any_calls)
def test_nothing_is_lost_every_identifier_change_and_run_ends_on_one_survivor(calls: list[Call]) -> None:
    graph, world = IdentityGraph(), World()
    for n, (cause, ids) in enumerate(calls):
        at, source = float(n), f"m{n}"
        if cause == "alias":
            result = graph.alias(ids[0], ids[1], input=source, at=at)
        else:
            result = graph.identify(ids, input=source, at=at)
        for customer in result.created:
            world.create(customer, at)
        for merge in result.merges:
            profile = merge_profiles(world.profiles[merge.survivor], world.profiles.pop(merge.merged))
            outcome = merge_customers(
                world.states[merge.survivor],
                world.states.pop(merge.merged),
                JOURNEYS,
                at=at,
                input=merge.id,
                profile=profile,
            )
            world.profiles[merge.survivor], world.states[merge.survivor] = profile, outcome.customer
            world.stopped.extend(r.id for r in outcome.stopped)
        world.change(result.customer, ("plan", "city")[n % 2], at, source)

    store = graph.store
    assert isinstance(store, MemoryIdentityStore)
    alive = set(store.customers())
    assert set(world.profiles) == set(world.states) == alive
    held = Counter(i for c in alive for i in store.identifiers_of(c))
    assert set(held) == {i for _, ids in calls for i in ids} and set(held.values()) == {1}
    kept = Counter(c for p in world.profiles.values() for c in p.trait_changes)
    assert kept == Counter(world.changes)
    placed = Counter([*(r for s in world.states.values() for r in s.runs), *world.stopped])
    assert set(placed) == world.runs and set(placed.values()) == {1}
    for state in world.states.values():
        one = [r for r in state.runs.values() if r.journey == "one"]
        assert len(one) <= 1  # a journey without concurrent runs never ends with two runs


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["plan", "city", "tier"]), st.integers(0, 9), st.sampled_from(["a", "b"])),
        max_size=12,
        unique_by=lambda t: (t[0], t[1]),
    ),
    st.data(),
)
def test_profile_merges_are_commutative_and_keep_the_latest_change(
    raw: list[tuple[str, int, str]], data: st.DataObject
) -> None:
    changes = [TraitChange(name, f"{name}@{at}", float(at), side) for name, at, side in raw]
    sides = data.draw(st.lists(st.booleans(), min_size=len(changes), max_size=len(changes)))
    a = Profile("ca", tuple(c for c, left in zip(changes, sides, strict=True) if left))
    b = Profile("cb", tuple(c for c, left in zip(changes, sides, strict=True) if not left))
    ab, ba = merge_profiles(a, b), merge_profiles(b, a)
    assert ab.trait_changes == ba.trait_changes
    latest = {name: f"{name}@{max(at for n, at, _ in raw if n == name)}" for name, _, _ in raw}
    assert ab.traits == ba.traits == latest
