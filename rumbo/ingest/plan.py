"""The tracking plan: what each event should look like, and what to do with one that does not.

A plan holds one rule per track event name (`events`) and per other call type (`calls`: identify, page,
screen, group, alias). A rule is a JSON Schema applied to the whole normalised message, as Segment
Protocols does, so a rule can constrain `properties`, `traits` and `context` alike, and a mode:

- `allow`: the event is accepted; violations are only counted.
- `warn`: the event is accepted; violations are counted and reported back with their paths.
- `block`: the event goes to the dead-letter store with the violations as its reason.

Events the plan does not name follow `unplanned` (`allow` by default; `block` makes the plan a whitelist,
with the reason that the event is not in the plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from rumbo.ingest.errors import Issue, TrackingPlanInvalid, child

Mode = Literal["allow", "warn", "block"]
MODES: Final = ("allow", "warn", "block")
RULE_CALLS: Final = ("identify", "page", "screen", "group", "alias")
_PLAN_KEYS: Final = ("name", "version", "unplanned", "events", "calls")


@dataclass(frozen=True, slots=True)
class Rule:
    """What one event should look like (`schema`, over the whole message) and the `mode` to enforce."""

    mode: Mode
    validator: Draft202012Validator | None  # None: anything goes, only the mode applies
    # The same schema compiled by jsonschema-rs: most events pass, and it says so ~50x faster; the
    # Python validator then lists the violations of the few that do not, in its clearer words.
    fast: jsonschema_rs.Draft202012Validator | None = None

    def violations(self, message: Mapping[str, Any]) -> list[Issue]:
        """Every way the message breaks the schema, with paths rooted at the message."""
        if self.validator is None:
            return []
        if self.fast is not None:
            try:
                if self.fast.is_valid(message):
                    return []
            except (ValueError, TypeError, OverflowError):
                pass  # a value jsonschema-rs cannot take (an integer past 64 bits): ask the Python validator
        issues: list[Issue] = []
        for error in self.validator.iter_errors(message):
            path = "$"
            for key in error.absolute_path:
                path = child(path, key)
            if error.validator == "required" and isinstance(error.instance, dict):
                missing = [
                    name for name in cast(list[str], error.validator_value) if name not in error.instance
                ]
                issues.extend(Issue(child(path, name), "required by the tracking plan") for name in missing)
            else:
                issues.append(Issue(path, error.message))
        return sorted(issues, key=lambda issue: issue.path)


@dataclass(frozen=True, slots=True)
class TrackingPlan:
    """Rules by track event name and by call type; `unplanned` is the mode for events it does not name."""

    events: Mapping[str, Rule] = field(default_factory=dict)
    calls: Mapping[str, Rule] = field(default_factory=dict)
    unplanned: Mode = "allow"
    name: str = "tracking plan"
    version: int = 1

    def rule_name(self, message: Mapping[str, Any]) -> str:
        """The rule a message falls under: its event name for track, else its call type."""
        kind = message.get("type")
        return str(message.get("event")) if kind == "track" else str(kind)

    def judge(self, message: Mapping[str, Any]) -> tuple[str, Mode, list[Issue]]:
        """The rule name, the mode to apply and the violations of one normalised message."""
        name = self.rule_name(message)
        rules = self.events if message.get("type") == "track" else self.calls
        rule = rules.get(name)
        if rule is None:
            if self.unplanned == "allow":
                return name, "allow", []
            what = f"event {name!r}" if message.get("type") == "track" else f"{name} calls"
            reason = Issue("$", f"{what} not in the tracking plan {self.name!r}")
            return name, self.unplanned, [reason]
        return name, rule.mode, rule.violations(message)

    @classmethod
    def from_document(cls, document: Any, source: str = "tracking plan") -> TrackingPlan:
        """A plan from its JSON/YAML document, refusing it with every problem listed by path."""
        issues: list[Issue] = []
        if not isinstance(document, dict):
            raise TrackingPlanInvalid(f"{source} must be an object with `events` and/or `calls`")
        for key in document:
            if key not in _PLAN_KEYS:
                issues.append(Issue(child("$", str(key)), f"unknown key — use {', '.join(_PLAN_KEYS)}"))
        unplanned = document.get("unplanned", "allow")
        if unplanned not in MODES:
            issues.append(Issue("$.unplanned", f"must be one of {', '.join(MODES)}, got {unplanned!r}"))
        name = document.get("name", source)
        if not isinstance(name, str):
            issues.append(Issue("$.name", "must be a string"))
        version = document.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int):
            issues.append(Issue("$.version", "must be a whole number"))
        events = _rules(document.get("events", {}), "$.events", None, issues)
        calls = _rules(document.get("calls", {}), "$.calls", RULE_CALLS, issues)
        if issues:
            count = len(issues)
            raise TrackingPlanInvalid(
                f"{source} has {count} problem{'s' if count != 1 else ''}", tuple(issues)
            )
        return cls(events, calls, cast(Mode, unplanned), cast(str, name), cast(int, version))


def _rules(section: Any, path: str, allowed: tuple[str, ...] | None, issues: list[Issue]) -> dict[str, Rule]:
    if not isinstance(section, dict):
        issues.append(Issue(path, "must be an object mapping names to rules"))
        return {}
    rules = {}
    for name, body in section.items():
        where = child(path, name)
        if allowed is not None and name not in allowed:
            issues.append(Issue(where, f"not a call type with a rule — use one of {', '.join(allowed)}"))
            continue
        rule = _rule(body, where, issues)
        if rule is not None:
            rules[name] = rule
    return rules


def _rule(body: Any, path: str, issues: list[Issue]) -> Rule | None:
    if not isinstance(body, dict):
        issues.append(Issue(path, "a rule must be an object with `mode` and `schema`"))
        return None
    found = len(issues)
    for key in body:
        if key not in ("mode", "schema", "description"):
            issues.append(Issue(child(path, str(key)), "unknown key — use mode, schema, description"))
    mode = body.get("mode", "warn")
    if mode not in MODES:
        issues.append(Issue(child(path, "mode"), f"must be one of {', '.join(MODES)}, got {mode!r}"))
    schema = body.get("schema")
    validator = fast = None
    if schema is not None:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = child(path, "schema")
            for key in exc.absolute_path:
                where = child(where, key)
            issues.append(Issue(where, f"not a valid JSON Schema: {exc.message}"))
        else:
            remote = _remote_references(schema, child(path, "schema"))
            issues.extend(
                Issue(where, "only references inside the rule (starting with '#') are allowed")
                for where in remote
            )
            if not remote:
                try:
                    fast = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
                except ValueError as exc:  # a reference to a part of the schema that does not exist
                    message = str(exc).splitlines()[0]
                    issues.append(Issue(child(path, "schema"), f"not a usable JSON Schema: {message}"))
                validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    if len(issues) > found:
        return None
    return Rule(cast(Mode, mode), validator, fast)


def _remote_references(schema: Any, path: str) -> list[str]:
    """Paths of `$ref`s that point outside the schema: a plan must never make ingestion fetch a URL."""
    found = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str) and not value.startswith("#"):
                found.append(child(path, key))
            else:
                found.extend(_remote_references(value, child(path, key)))
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found.extend(_remote_references(value, child(path, index)))
    return found
