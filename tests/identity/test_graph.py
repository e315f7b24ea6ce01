"""The identity graph's rules, each on a small history worked out by hand."""

from __future__ import annotations

import pytest

from rumbo.identity import (
    MERGE_EVENT,
    IdentityGraph,
    IdentityRules,
    IdentityRulesInvalid,
    Merge,
    NoIdentifiers,
    Refusal,
    Resolution,
    customer_id,
    identifier,
)

U1, U2 = identifier("user_id", "u1"), identifier("user_id", "u2")
A1, A2 = identifier("anonymous_id", "a1"), identifier("anonymous_id", "a2")
E1, E2, E3 = (identifier("email", f"e{n}@x.io") for n in (1, 2, 3))
P1 = identifier("phone", "+34612345678")


def test_a_new_identifier_creates_a_customer_named_after_it() -> None:
    graph = IdentityGraph()
    assert graph.identify([A1], input="m1", at=1.0) == Resolution(customer_id(A1), created=(customer_id(A1),))
    assert graph.resolve(A1) == customer_id(A1)
    assert graph.identify([A1], input="m2", at=2.0) == Resolution(customer_id(A1))


def test_identifying_an_anonymous_visitor_folds_them_into_the_user() -> None:
    graph = IdentityGraph()
    graph.identify([A1], input="m1", at=1.0)
    result = graph.identify([U1, A1], input="m2", at=2.0)
    merge = Merge(customer_id(U1), customer_id(A1), (A1,), "identify", (U1, A1), "m2", 2.0)
    assert result == Resolution(customer_id(U1), created=(customer_id(U1),), merges=(merge,))
    assert graph.resolve(A1) == graph.resolve(U1) == customer_id(U1)
    assert merge.reason == "identify linked user_id:u1, anonymous_id:a1"


def test_new_identifiers_join_an_existing_customer_without_a_merge() -> None:
    graph = IdentityGraph()
    graph.identify([U1], input="m1", at=1.0)
    assert graph.identify([U1, E1, P1], input="m2", at=2.0) == Resolution(customer_id(U1))
    assert graph.store.identifiers_of(customer_id(U1)) == {U1, E1, P1}


def test_two_user_ids_are_never_merged_and_the_message_stays_with_its_own_user() -> None:
    graph = IdentityGraph()
    graph.identify([U1, A1], input="m1", at=1.0)
    result = graph.identify([U2, A1], input="m2", at=2.0)  # a shared device, a second account
    assert result.customer == customer_id(U2)
    assert result.merges == ()
    assert result.refusals == (
        Refusal(
            customer_id(U2),
            customer_id(U1),
            (U1, A1),
            "user_id_conflict",
            "would hold 2 different user ids",
            "m2",
            2.0,
        ),
    )
    assert graph.resolve(A1) == customer_id(U1)  # the link made first keeps the device
    assert graph.store.identifiers_of(customer_id(U2)) == {U2}


def test_aliasing_two_user_ids_is_refused() -> None:
    graph = IdentityGraph()
    graph.identify([U1], input="m1", at=1.0)
    graph.identify([U2], input="m2", at=2.0)
    result = graph.alias(U1, U2, input="m3", at=3.0)
    assert result.customer == customer_id(U1)  # the stronger of two equal kinds: u1 sorts before u2
    (refusal,) = result.refusals
    assert (refusal.kept_apart, refusal.reason) == (customer_id(U2), "user_id_conflict")
    assert "refused to merge" in str(refusal) and "user_id:u2" in str(refusal)


def test_an_identifier_over_the_cap_gets_a_customer_of_its_own() -> None:
    graph = IdentityGraph(rules=IdentityRules({"email": 2}))
    graph.identify([U1, E1], input="m1", at=1.0)
    graph.identify([U1, E2], input="m2", at=2.0)
    result = graph.identify([U1, E3], input="m3", at=3.0)
    assert result.customer == customer_id(U1)
    assert result.created == (customer_id(E3),)
    assert result.refusals == (
        Refusal(
            customer_id(U1),
            customer_id(E3),
            (E3,),
            "cap_exceeded",
            "would hold 3 of kind 'email', over the cap of 2",
            "m3",
            3.0,
        ),
    )
    assert graph.resolve(E3) == customer_id(E3)


def test_a_merge_the_cap_forbids_is_refused_as_a_whole() -> None:
    graph = IdentityGraph(rules=IdentityRules({"email": 2}))
    graph.identify([A1, E1, E2], input="m1", at=1.0)
    graph.identify([A2, E3], input="m2", at=2.0)
    result = graph.identify([A1, A2], input="m3", at=3.0)
    assert result.merges == ()
    assert [r.reason for r in result.refusals] == ["cap_exceeded"]
    assert graph.resolve(A2) == customer_id(E3)


def test_the_survivor_is_the_customer_with_the_strongest_anchor_whatever_the_order() -> None:
    for order in ([E1], [A1]), ([A1], [E1]):
        graph = IdentityGraph()
        for n, ids in enumerate(order):
            graph.identify(ids, input=f"m{n}", at=float(n))
        result = graph.identify([A1, E1], input="link", at=9.0)
        assert [(m.survivor, m.merged) for m in result.merges] == [(customer_id(E1), customer_id(A1))]


def test_equal_kinds_survive_by_value() -> None:
    graph = IdentityGraph()
    graph.identify([A2], input="m1", at=1.0)
    graph.identify([A1], input="m2", at=2.0)
    (merge,) = graph.identify([A2, A1], input="m3", at=3.0).merges
    assert (merge.survivor, merge.merged, merge.identifiers) == (customer_id(A1), customer_id(A2), (A2,))


def test_a_conflicting_call_still_makes_the_links_that_are_safe() -> None:
    graph = IdentityGraph()
    graph.identify([U1, A1], input="m1", at=1.0)
    graph.identify([U2, A2], input="m2", at=2.0)
    result = graph.identify([A1, A2, E1], input="m3", at=3.0)
    # The email starts the join; u1's customer (strongest anchor) joins it; u2's would be a second user id.
    assert result.customer == customer_id(U1)
    assert [r.kept_apart for r in result.refusals] == [customer_id(U2)]
    assert graph.resolve(E1) == customer_id(U1)
    assert graph.resolve(A2) == customer_id(U2)


def test_alias_previous_id_is_a_user_id_only_when_known_as_one() -> None:
    graph = IdentityGraph()
    graph.identify([U1], input="m1", at=1.0)
    assert graph.previous("u1") == U1
    assert graph.previous("anon-9") == identifier("anonymous_id", "anon-9")


def test_a_call_without_identifiers_is_refused() -> None:
    with pytest.raises(NoIdentifiers, match="carries no identifier; send at least a userId"):
        IdentityGraph().identify([], input="m1", at=1.0)


@pytest.mark.parametrize("caps", [{"user_id": 2}, {"email": 0}, {"phone": True}])
def test_unusable_caps_are_refused(caps: dict[str, int]) -> None:
    with pytest.raises(IdentityRulesInvalid, match="identity cap for"):
        IdentityRules(caps)


def test_a_merge_is_an_event_on_the_survivor() -> None:
    merge = Merge("c1", "c2", (A1,), "alias", (U1, A1), "m7", 5.0)
    assert merge.to_event() == {
        "type": "track",
        "event": MERGE_EVENT,
        "messageId": "merge:m7:c2",
        "properties": {
            "survivor": "c1",
            "merged": "c2",
            "identifiers": [{"kind": "anonymous_id", "value": "a1"}],
            "cause": "alias",
            "reason": "alias linked user_id:u1, anonymous_id:a1",
            "input": "m7",
        },
    }
