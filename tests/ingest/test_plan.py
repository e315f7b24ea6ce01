"""The tracking plan: rules checked with paths, modes applied, blocked events dead-lettered and replayed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from rumbo.ingest import (
    MemoryDeadLetters,
    TrackingPlan,
    TrackingPlanInvalid,
    ingest_payload,
    replay,
)

RECEIVED = 1_795_435_206.0

ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "properties": {
            "type": "object",
            "required": ["order_id", "total"],
            "properties": {
                "order_id": {"type": "string"},
                "total": {"type": "number", "minimum": 0},
                "currency": {"enum": ["EUR", "USD"]},
            },
        }
    },
}


def plan(mode: str, unplanned: str = "allow", **extra: Any) -> TrackingPlan:
    return TrackingPlan.from_document(
        {
            "name": "shop",
            "unplanned": unplanned,
            "events": {"Order Completed": {"mode": mode, "schema": ORDER_SCHEMA}},
            **extra,
        }
    )


def order(message_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "messageId": message_id,
        "properties": properties,
    }


def run(payload: dict[str, Any], the_plan: TrackingPlan, store: MemoryDeadLetters | None = None) -> Any:
    return ingest_payload(
        "batch", payload, workspace="acme", received_at=RECEIVED, plan=the_plan, dead_letters=store
    )


GOOD = order("m0", order_id="A-1", total=30.5, currency="EUR")
BAD = order("m1", total=-3, currency="GBP")


def test_warn_accepts_the_event_and_reports_each_violation_by_path() -> None:
    result = run({"batch": [GOOD, BAD]}, plan("warn"))
    assert [a.record["messageId"] for a in result.accepted] == ["m0", "m1"]
    assert result.accepted[0].warnings == ()
    assert [str(w) for w in result.accepted[1].warnings] == [
        "$.batch[1].properties.currency: 'GBP' is not one of ['EUR', 'USD']",
        "$.batch[1].properties.order_id: required by the tracking plan",
        "$.batch[1].properties.total: -3 is less than the minimum of 0",
    ]
    assert result.violations == {"Order Completed": 3}


def test_allow_accepts_and_only_counts() -> None:
    result = run({"batch": [BAD]}, plan("allow"))
    assert result.accepted[0].warnings == () and result.issues == []
    assert result.violations == {"Order Completed": 3}


def test_block_dead_letters_the_bad_event_and_lets_the_good_one_through() -> None:
    store = MemoryDeadLetters()
    result = run({"batch": [GOOD, BAD]}, plan("block"), store)
    assert [a.record["messageId"] for a in result.accepted] == ["m0"]
    (letter,) = store.letters("acme")
    assert result.blocked == [letter]
    assert (letter.id, letter.workspace, letter.rule, letter.at) == (
        "m1",
        "acme",
        "Order Completed",
        RECEIVED,
    )
    # Reasons are rooted at the message in the store, at the request in the answer.
    assert [str(r) for r in letter.reasons][1] == "$.properties.order_id: required by the tracking plan"
    assert "$.batch[1].properties.order_id: required by the tracking plan" in [str(i) for i in result.issues]
    assert store.letters("other") == [] and store.letters("acme", rule="Signed Up") == []


def test_a_blocked_event_is_replayed_once_the_plan_is_fixed() -> None:
    store = MemoryDeadLetters()
    run({"batch": [BAD, order("m2", order_id="B", total=1, currency="GBP")]}, plan("block"), store)
    assert [letter.id for letter in store.letters("acme")] == ["m1", "m2"]
    # The plan is fixed for GBP only: m2 now passes, m1 (no order id, negative total) still does not.
    fixed_schema = {
        "properties": {
            "properties": {
                "required": ["order_id", "total"],
                "properties": {"total": {"minimum": 0}, "currency": {"enum": ["EUR", "USD", "GBP"]}},
            }
        }
    }
    fixed = TrackingPlan.from_document(
        {"events": {"Order Completed": {"mode": "block", "schema": fixed_schema}}}
    )
    replayed = replay(store, "acme", fixed)
    assert [a.record["messageId"] for a in replayed.released] == ["m2"]
    assert replayed.released[0].record["properties"]["currency"] == "GBP"
    assert [letter.id for letter in replayed.kept] == ["m1"]
    assert [str(r) for r in replayed.kept[0].reasons] == [
        "$.properties.order_id: required by the tracking plan",
        "$.properties.total: -3 is less than the minimum of 0",
    ]
    assert [letter.id for letter in store.letters("acme")] == ["m1"]
    # Relaxed to warn, the last one is released with its warnings.
    again = replay(store, "acme", plan("warn"))
    assert [a.record["messageId"] for a in again.released] == ["m1"] and len(again.released[0].warnings) == 3
    assert store.letters("acme") == []


def test_blocking_the_same_message_twice_keeps_one_letter() -> None:
    store = MemoryDeadLetters()
    run({"batch": [BAD]}, plan("block"), store)
    run({"batch": [BAD]}, plan("block"), store)
    assert len(store.letters("acme")) == 1


def test_unplanned_events_follow_the_plans_setting() -> None:
    signed_up = {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "s1"}
    identify = {"type": "identify", "userId": "u1", "messageId": "i1"}
    assert len(run({"batch": [signed_up, identify]}, plan("block")).accepted) == 2
    result = run({"batch": [signed_up, identify]}, plan("block", unplanned="block"))
    assert result.accepted == []
    assert [str(r) for letter in result.blocked for r in letter.reasons] == [
        "$: event 'Signed Up' not in the tracking plan 'shop'",
        "$: identify calls not in the tracking plan 'shop'",
    ]
    warned = run({"batch": [signed_up]}, plan("block", unplanned="warn"))
    assert [str(w) for w in warned.accepted[0].warnings] == [
        "$.batch[0]: event 'Signed Up' not in the tracking plan 'shop'"
    ]


def test_calls_have_rules_of_their_own() -> None:
    traits_schema = {
        "properties": {"traits": {"required": ["email"], "properties": {"email": {"type": "string"}}}}
    }
    the_plan = plan("block", calls={"identify": {"mode": "block", "schema": traits_schema}})
    result = run({"batch": [{"type": "identify", "userId": "u", "traits": {"email": 5}}]}, the_plan)
    assert [str(r) for r in result.blocked[0].reasons] == ["$.traits.email: 5 is not of type 'string'"]
    assert result.blocked[0].rule == "identify"


def test_a_rule_without_a_schema_only_applies_its_mode() -> None:
    the_plan = TrackingPlan.from_document({"events": {"Order Completed": {"mode": "block"}}})
    assert len(run({"batch": [BAD]}, the_plan).accepted) == 1


def test_a_bad_plan_is_refused_with_every_problem_by_path() -> None:
    document = {
        "unplanned": "deny",
        "version": "two",
        "owner": "me",
        "events": {
            "A": {"mode": "strict", "schema": {"type": "object"}},
            "B": {"schema": {"type": "nonsense"}},
            "C": "required",
            "D": {"mode": "warn", "scheme": {}},
            "E": {"schema": {"properties": {"a": {"$ref": "https://example.com/a.json"}}}},
            "F": {"schema": {"$ref": "#/$defs/missing"}},
        },
        "calls": {"track": {"mode": "warn"}},
    }
    with pytest.raises(TrackingPlanInvalid) as caught:
        TrackingPlan.from_document(document, "plans/shop.yaml")
    assert [str(issue) for issue in caught.value.issues] == [
        "$.owner: unknown key — use name, version, unplanned, events, calls",
        "$.unplanned: must be one of allow, warn, block, got 'deny'",
        "$.version: must be a whole number",
        "$.events.A.mode: must be one of allow, warn, block, got 'strict'",
        "$.events.B.schema.type: not a valid JSON Schema: "
        "'nonsense' is not valid under any of the given schemas",
        "$.events.C: a rule must be an object with `mode` and `schema`",
        "$.events.D.scheme: unknown key — use mode, schema, description",
        '$.events.E.schema.properties.a["$ref"]: '
        "only references inside the rule (starting with '#') are allowed",
        "$.events.F.schema: not a usable JSON Schema: Pointer '/$defs/missing' does not exist",
        "$.calls.track: not a call type with a rule — use one of identify, page, screen, group, alias",
    ]
    assert str(caught.value).startswith("plans/shop.yaml has 10 problems")
    with pytest.raises(TrackingPlanInvalid, match="must be an object"):
        TrackingPlan.from_document(["not", "a", "plan"])


def test_the_plan_in_the_docs_loads_and_blocks_what_it_says() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "ingest.md").read_text()
    (document,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    docs_plan = TrackingPlan.from_document(yaml.safe_load(document))
    result = run({"batch": [GOOD, BAD]}, docs_plan)
    assert [a.record["messageId"] for a in result.accepted] == ["m0"] and len(result.blocked) == 1
