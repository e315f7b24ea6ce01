"""CatalogStore on SQLite and PostgreSQL: what workers read, the journey lifecycle, CRUD, keys, audit."""

from __future__ import annotations

import pytest

from rumbo.store.catalog import (
    Actor,
    CatalogConflict,
    CatalogNotFound,
    CatalogStore,
    PublishedVersion,
    SegmentDefinition,
    key_id,
)
from tests.manage.conftest import journey_text

ADMIN = Actor("admin", "k1")


def publish(catalog: CatalogStore, ws: str, name: str, at: float, **kw: object) -> int:
    record = catalog.journey(ws, name)
    assert record is not None
    return catalog.publish(
        ws, name, in_flight=kw.get("in_flight", "drain"),  # type: ignore[arg-type]
        mapping=kw.get("mapping", {}), expected_revision=record.draft_revision, actor=ADMIN, at=at,  # type: ignore[arg-type]
    ).version  # fmt: skip


def test_published_lists_every_version_in_publish_order_with_the_journey_state(catalog: CatalogStore) -> None:
    assert catalog.revision("a") == 0
    catalog.create_journey("a", "one", journey_text("one"), actor=ADMIN, at=10.0)
    catalog.create_journey("a", "two", journey_text("two"), actor=ADMIN, at=11.0)
    assert catalog.published("a") == [] and catalog.revision("a") == 0  # drafts are not for workers
    assert publish(catalog, "a", "two", 12.0) == 1
    assert publish(catalog, "a", "one", 13.0) == 1
    catalog.update_draft(
        "a", "two", journey_text("two", priority=60), expected_revision=None, actor=ADMIN, at=14
    )
    assert publish(catalog, "a", "two", 15.0, in_flight="migrate", mapping={"wait": "done"}) == 2
    catalog.change_state("a", "one", "pause", actor=ADMIN, at=16.0)
    assert catalog.published("a") == [
        PublishedVersion("two", 1, journey_text("two"), "drain", {}, 12.0, "live"),
        PublishedVersion("one", 1, journey_text("one"), "drain", {}, 13.0, "paused"),
        PublishedVersion(
            "two", 2, journey_text("two", priority=60), "migrate", {"wait": "done"}, 15.0, "live"
        ),
    ]
    assert catalog.revision("a") == 4
    assert catalog.published("b") == [] and catalog.revision("b") == 0
    catalog.change_state("a", "one", "stop", actor=ADMIN, at=17.0)
    catalog.change_state("a", "one", "archive", actor=ADMIN, at=18.0)
    assert [(p.journey, p.version) for p in catalog.published("a")] == [("two", 1), ("two", 2)]


def test_publishing_needs_the_draft_revision_that_was_validated(catalog: CatalogStore) -> None:
    catalog.create_journey("a", "one", journey_text("one"), actor=ADMIN, at=1.0)
    catalog.update_draft(
        "a", "one", journey_text("one", priority=9), expected_revision=1, actor=ADMIN, at=2.0
    )
    with pytest.raises(CatalogConflict, match="changed meanwhile: its draft is at revision 2, not 1"):
        catalog.publish("a", "one", in_flight="drain", mapping={}, expected_revision=1, actor=ADMIN, at=3.0)
    with pytest.raises(CatalogConflict, match="revision 2, not 1"):
        catalog.update_draft("a", "one", "journey: one\n", expected_revision=1, actor=ADMIN, at=3.0)
    version = catalog.publish(
        "a", "one", in_flight="drain", mapping={}, expected_revision=2, actor=ADMIN, at=4.0
    )
    assert version.document == journey_text("one", priority=9)
    with pytest.raises(CatalogConflict, match="no draft to publish"):
        catalog.publish("a", "one", in_flight="drain", mapping={}, expected_revision=2, actor=ADMIN, at=5.0)
    with pytest.raises(CatalogConflict, match="already exists"):
        catalog.create_journey("a", "one", journey_text("one"), actor=ADMIN, at=6.0)
    with pytest.raises(CatalogNotFound, match="journey 'nope' not found in workspace 'a'"):
        catalog.change_state("a", "nope", "pause", actor=ADMIN, at=7.0)
    # Another workspace's journey of the same id is another journey.
    catalog.create_journey("b", "one", journey_text("one"), actor=ADMIN, at=8.0)
    b = catalog.journey("b", "one")
    assert b is not None and b.latest_version == 0 and b.state == "draft"


def test_lifecycle_transitions_refuse_what_does_not_apply(catalog: CatalogStore) -> None:
    catalog.create_journey("a", "one", journey_text("one"), actor=ADMIN, at=1.0)
    with pytest.raises(CatalogConflict, match="cannot pause journey 'one': it is draft"):
        catalog.change_state("a", "one", "pause", actor=ADMIN, at=2.0)
    publish(catalog, "a", "one", 3.0)
    assert catalog.change_state("a", "one", "pause", actor=ADMIN, at=4.0).state == "paused"
    with pytest.raises(CatalogConflict, match="archive applies to a journey that is draft or stopped"):
        catalog.change_state("a", "one", "archive", actor=ADMIN, at=5.0)
    assert catalog.change_state("a", "one", "resume", actor=ADMIN, at=6.0).state == "live"
    assert catalog.change_state("a", "one", "stop", actor=ADMIN, at=7.0).state == "stopped"
    assert catalog.change_state("a", "one", "archive", actor=ADMIN, at=8.0).state == "archived"
    with pytest.raises(CatalogConflict, match="archived"):
        catalog.update_draft("a", "one", journey_text("one"), expected_revision=None, actor=ADMIN, at=9.0)
    actions = [e.action for e in catalog.audit("a", kind="journey", name="one")]
    assert actions == ["archive", "stop", "resume", "pause", "publish", "create"]


def test_segments_offers_templates_plans_settings_and_their_audit(catalog: CatalogStore) -> None:
    vip = SegmentDefinition("vip", "profile.traits.plan == 'pro'", None, "paying")
    assert catalog.put_segment("a", vip, actor=ADMIN, at=1.0) is True
    lapsing = SegmentDefinition("lapsing", "count('order_completed', '90d') == 0", 3600.0, "")
    assert catalog.put_segment("a", lapsing, actor=ADMIN, at=2.0) is True
    changed = SegmentDefinition("vip", "profile.traits.plan == 'max'", None, "paying more")
    assert catalog.put_segment("a", changed, actor=ADMIN, at=3.0) is False
    assert catalog.segments("a") == [lapsing, changed] and catalog.segments("b") == []
    catalog.delete_segment("a", "lapsing", actor=ADMIN, at=4.0)
    with pytest.raises(CatalogNotFound):
        catalog.delete_segment("a", "lapsing", actor=ADMIN, at=5.0)
    template = {"channel": "email", "parts": {"subject": "Hi", "text": "Hello"}}
    assert catalog.put_template("a", "welcome", template, actor=ADMIN, at=6.0)
    assert catalog.put_offer("a", "ten", {"value": 10, "template": "welcome"}, actor=ADMIN, at=7.0)
    offer, stored = catalog.offer("a", "ten"), catalog.template("a", "welcome")
    assert offer is not None and offer.body == {"value": 10, "template": "welcome"}
    assert stored is not None and stored.body == template
    assert catalog.tracking_plan("a") is None
    assert catalog.put_tracking_plan("a", {"events": {"x": {"mode": "warn"}}}, actor=ADMIN, at=8.0) == 1
    assert catalog.put_tracking_plan("a", {"unplanned": "block"}, actor=ADMIN, at=9.0) == 2
    assert catalog.tracking_plan("a") == {"unplanned": "block"}
    assert [p.version for p in catalog.tracking_plans("a", limit=10)] == [2, 1]
    catalog.put_settings("a", {"holdout": 0.1, "timezone": "Europe/Madrid"}, actor=ADMIN, at=10.0)
    assert catalog.policy_settings("a") == {"holdout": 0.1, "timezone": "Europe/Madrid"}
    assert catalog.policy_settings("b") == {}
    assert catalog.revision("a") == 9
    segment_audit = catalog.audit("a", kind="segment", name="vip")
    assert [(e.action, e.actor_role, e.actor_key) for e in segment_audit] == [
        ("update", "admin", "k1"),
        ("create", "admin", "k1"),
    ]
    assert segment_audit[0].detail["before"]["rule"] == "profile.traits.plan == 'pro'"
    assert segment_audit[0].detail["after"]["rule"] == "profile.traits.plan == 'max'"
    settings = catalog.audit("a", kind="settings")[0]
    assert settings.detail == {"before": {}, "after": {"holdout": 0.1, "timezone": "Europe/Madrid"}}
    # Paging back through the log, newest first, loses nothing and repeats nothing.
    everything = catalog.audit("a", limit=1000)
    pages, before = [], None
    while True:
        page = catalog.audit("a", limit=3, before=before)
        if not page:
            break
        pages.extend(page)
        before = page[-1].id
    assert pages == everything and len(everything) == 9
    assert catalog.audit("b") == []


def test_rotating_a_key_ends_the_old_one_and_audits_key_ids_only(catalog: CatalogStore) -> None:
    keys = catalog.store.create_workspace("c", at=1.0)
    new = catalog.rotate_key("c", "admin", actor=ADMIN, at=2.0)
    assert catalog.store.find_key(keys.admin_key) is None
    match = catalog.store.find_key(new)
    assert match is not None and (match.workspace, match.role) == ("c", "admin")
    found = catalog.store.find_key(keys.write_key)
    assert found is not None and found.role == "write"  # the other key is untouched
    entry = catalog.audit("c", kind="key")[0]
    assert entry.detail == {"role": "admin", "old_key_id": key_id(keys.admin_key), "new_key_id": key_id(new)}
    assert new not in str(entry) and keys.admin_key not in str(entry)
    with pytest.raises(CatalogNotFound):
        catalog.rotate_key("nope", "write", actor=ADMIN, at=3.0)
