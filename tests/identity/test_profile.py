"""Profiles merge as histories: the latest change wins per trait and per consent scope, nothing is lost."""

from __future__ import annotations

from rumbo.identity import ConsentChange, Profile, TraitChange, merge_profiles


def test_the_latest_change_of_each_trait_wins_whichever_profile_survives() -> None:
    web = Profile("c1").set_traits({"name": "Ana", "plan": "free"}, at=100.0, source="m1")
    store = Profile("c2").set_traits({"plan": "pro", "city": "Sevilla"}, at=200.0, source="import")
    store = store.set_traits({"name": "Ana María"}, at=50.0, source="import")
    expected = {"name": "Ana", "plan": "pro", "city": "Sevilla"}
    one, other = merge_profiles(web, store), merge_profiles(store, web)
    assert one.customer == "c1" and other.customer == "c2"
    assert one.traits == other.traits == expected
    assert one.trait_changes == other.trait_changes  # the same history, in the same order
    assert len(one.trait_changes) == 5


def test_a_trait_cleared_later_is_absent_but_its_history_stays() -> None:
    a = Profile("c1").set_traits({"coupon": "X10"}, at=10.0)
    b = Profile("c2").set_traits({"coupon": None}, at=20.0)
    merged = merge_profiles(a, b)
    assert merged.traits == {}
    assert [c.value for c in merged.trait_changes] == ["X10", None]


def test_changes_at_the_same_moment_are_settled_by_source_then_value() -> None:
    a = Profile("c1", (TraitChange("tier", "gold", 10.0, "m2"),))
    b = Profile("c2", (TraitChange("tier", "silver", 10.0, "m1"),))
    assert merge_profiles(a, b).traits == merge_profiles(b, a).traits == {"tier": "gold"}


def test_consent_per_channel_and_topic_keeps_the_latest_change_with_its_source() -> None:
    a = Profile("c1").with_consent(
        [
            ConsentChange("email", True, 100.0, "signup-form"),
            ConsentChange("email", True, 100.0, "signup-form", topic="newsletter"),
        ]
    )
    b = Profile("c2").with_consent(
        [
            ConsentChange("email", False, 300.0, "unsubscribe-link", topic="newsletter"),
            ConsentChange("sms", True, 50.0, "call-centre"),
            ConsentChange("email", False, 20.0, "old-crm"),
        ]
    )
    merged = merge_profiles(b, a)
    assert merged.consent == {"email": True, "email.newsletter": False, "sms": True}
    assert merged.consent_states()["email.newsletter"] == ConsentChange(
        "email", False, 300.0, "unsubscribe-link", topic="newsletter"
    )
    assert merged.consent_states()["email"].source == "signup-form"
    assert len(merged.consent_changes) == 5
