"""The published JSON Schema of a journey document (`rumbo journey schema`).

Node bodies are also checked one type at a time (NODE_SCHEMAS) so that an error names the node type and the
field instead of the unreadable failures of a big `oneOf`.
"""

from __future__ import annotations

from typing import Any, Final

_ID = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]*$"}
_DURATION = {
    "type": "string",
    "pattern": r"^-?\s*(\d+(\.\d+)?\s*[smhdw]\s*)+$",
    "description": "a duration: '90s', '15m', '1h', '3d', '2w' or combined '1d12h'",
}
_CLOCK = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "description": "local time HH:MM"}
_PREDICATE = {"type": "string", "minLength": 1, "description": "a predicate (docs/predicates.md)"}
_DAYS = {
    "oneOf": [
        {"enum": ["weekdays", "weekends", "any"]},
        {
            "type": "array",
            "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            "minItems": 1,
        },
    ]
}
_CHANNEL = {"enum": ["email", "sms", "push", "webhook", "inbox", "offline", "best"]}
_TYPE_NAME = {"enum": ["string", "number", "boolean", "object", "list", "any"]}
_EVENT_RULE = {
    "type": "object",
    "required": ["event"],
    "additionalProperties": False,
    "properties": {"event": _ID, "where": _PREDICATE},
}
_NEXT = {
    "oneOf": [_ID, {"type": "object", "additionalProperties": _ID}],
    "description": "the next node, or a map from outcome to node",
}
_COMMON = {
    "next": _NEXT,
    "title": {"type": "string"},
    "description": {"type": "string"},
    "owner": {"type": "string"},
}


def _node(type_name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [type_name],
        "additionalProperties": False,
        "properties": {type_name: body, **_COMMON},
    }


NODE_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "wait": _node(
        "wait",
        {
            "type": "object",
            "additionalProperties": False,
            "description": "exactly one of for, window, until_trait",
            "properties": {
                "for": _DURATION,
                "window": {
                    "type": "object",
                    "required": ["from", "to"],
                    "additionalProperties": False,
                    "properties": {"days": _DAYS, "from": _CLOCK, "to": _CLOCK},
                },
                "until_trait": {"type": "string", "minLength": 1},
                "offset": _DURATION,
                "at": _CLOCK,
                "if_past": {"enum": ["continue", "exit"]},
            },
        },
    ),
    "wait_for": _node(
        "wait_for",
        {
            "type": "object",
            "required": ["event", "timeout"],
            "additionalProperties": False,
            "properties": {"event": _ID, "where": _PREDICATE, "timeout": _DURATION},
        },
    ),
    "branch": _node(
        "branch",
        {
            "type": "object",
            "required": ["cases", "else"],
            "additionalProperties": False,
            "properties": {
                "cases": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["when", "next"],
                        "additionalProperties": False,
                        "properties": {"when": _PREDICATE, "next": _ID},
                    },
                },
                "else": _ID,
            },
        },
    ),
    "split": _node(
        "split",
        {
            "type": "object",
            "required": ["variants"],
            "additionalProperties": False,
            "properties": {
                "variants": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                    "description": "variant -> weight in percent of the customers not held out; sums to 100",
                },
                "holdout": {"type": "number", "minimum": 0, "exclusiveMaximum": 100},
            },
        },
    ),
    "send": _node(
        "send",
        {
            "type": "object",
            "required": ["channel", "template"],
            "additionalProperties": False,
            "properties": {
                "channel": _CHANNEL,
                "template": {"type": "string", "minLength": 1},
                "fallback": _CHANNEL,
                "topic": {"type": "string"},
                "transactional": {"type": "boolean"},
                "on_conflict": {"enum": ["defer", "skip"]},
            },
        },
    ),
    "decide": _node(
        "decide",
        {
            "type": "object",
            "required": ["offers"],
            "additionalProperties": False,
            "properties": {
                "offers": {"type": "array", "minItems": 1, "items": _ID},
                "policy": {"enum": ["priority", "propensity_value", "thompson"]},
            },
        },
    ),
    "update": _node(
        "update",
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "set": {"type": "object"},
                "increment": {"type": "object", "additionalProperties": {"type": "number"}},
                "unset": {"type": "array", "items": {"type": "string"}},
                "add_tags": {"type": "array", "items": {"type": "string"}},
                "remove_tags": {"type": "array", "items": {"type": "string"}},
            },
        },
    ),
    "emit": _node(
        "emit",
        {
            "type": "object",
            "additionalProperties": False,
            "description": "exactly one of event, start_journey",
            "properties": {
                "event": _ID,
                "properties": {"type": "object"},
                "start_journey": _ID,
            },
        },
    ),
    "exit": _node(
        "exit",
        {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"reason": {"type": "string"}},
                },
            ]
        },
    ),
}

NODE_TYPES: Final = tuple(NODE_SCHEMAS)

_ENTRY = {
    "type": "object",
    "additionalProperties": False,
    "description": "exactly one of event, segment, schedule, api",
    "properties": {
        "event": _ID,
        "where": _PREDICATE,
        "segment": _ID,
        "on": {"enum": ["enter", "leave"]},
        "schedule": {
            "type": "object",
            "required": ["cron"],
            "additionalProperties": False,
            "properties": {"cron": {"type": "string"}, "timezone": {"type": "string"}, "audience": _ID},
        },
        "api": {"type": "boolean"},
        "node": _ID,
    },
}

JOURNEY_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://rumbo.dev/schema/journey.json",
    "title": "rumbo journey",
    "type": "object",
    "required": ["journey", "entry", "nodes"],
    "additionalProperties": False,
    "properties": {
        "journey": {**_ID, "description": "the journey's id, stable across versions"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "owner": {"type": "string"},
        "priority": {"type": "number", "minimum": 0, "maximum": 100},
        "expected_value": {"type": "number", "minimum": 0},
        "cap_group": _ID,
        "quiet_hours": {
            "oneOf": [
                {"type": "boolean"},
                {
                    "type": "object",
                    "required": ["from", "to"],
                    "additionalProperties": False,
                    "properties": {"from": _CLOCK, "to": _CLOCK},
                },
            ]
        },
        "concurrent_runs": {"type": "boolean"},
        "events": {
            "type": "object",
            "description": "events this journey uses, with the types of their properties",
            "additionalProperties": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "description": {"type": "string"},
                            "properties": {"type": "object", "additionalProperties": _TYPE_NAME},
                        },
                    },
                ]
            },
        },
        "traits": {"type": "object", "additionalProperties": _TYPE_NAME},
        "segments": {"type": "array", "items": _ID},
        "offers": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "title": {"type": "string"},
                    "eligible": _PREDICATE,
                    "priority": {"type": "number"},
                    "value": {"type": "number", "minimum": 0},
                    "propensity": {"type": "number", "minimum": 0, "maximum": 1},
                    "template": {"type": "string"},
                },
            },
        },
        "start": _ID,
        "entry": {"oneOf": [_ENTRY, {"type": "array", "minItems": 1, "items": _ENTRY}]},
        "reentry": {
            "oneOf": [
                {"enum": ["never", "always"]},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {"cooldown": _DURATION, "max": {"type": "integer", "minimum": 1}},
                },
            ]
        },
        "goal": {
            "type": "object",
            "required": ["event", "within"],
            "additionalProperties": False,
            "properties": {
                "event": _ID,
                "where": _PREDICATE,
                "within": _DURATION,
                "value": {"type": "string", "description": "expression for the conversion's value"},
                "exit": {"type": "boolean"},
            },
        },
        "exit_on": {"type": "array", "items": _EVENT_RULE},
        "on": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["event", "goto"],
                "additionalProperties": False,
                "properties": {"event": _ID, "where": _PREDICATE, "goto": _ID},
            },
        },
        "nodes": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _ID,
            "additionalProperties": {"type": "object"},
        },
    },
    "$defs": {"nodes": NODE_SCHEMAS},
}
