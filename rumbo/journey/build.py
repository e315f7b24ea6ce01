"""From a parsed document to a compiled Journey, collecting every problem on the way.

Checks run in layers so that one mistake is reported once: the structure (schema per part, per node type),
then names (events, nodes, offers, segments), then values (durations, clocks, cron, time zones, predicates),
then the graph (targets, reachability, cycles that never wait). Nothing stops at the first problem.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema
from croniter import croniter

from rumbo.durations import parse_duration
from rumbo.errors import DurationInvalid, ExpressionError, JourneyInvalid, Problem
from rumbo.expr import (
    AggregateNeed,
    Expression,
    Predicate,
    Scope,
    Type,
    compile_expression,
    compile_predicate,
)
from rumbo.journey.catalog import BUILTIN_EVENTS, TYPE_NAMES, Catalog
from rumbo.journey.document import Document, PathKey
from rumbo.journey.graph_checks import check_graph
from rumbo.journey.model import (
    AnyNode,
    BranchNode,
    DecideNode,
    EmitNode,
    Entry,
    EventRule,
    ExitNode,
    Goal,
    Journey,
    LocalWindow,
    Offer,
    QuietHours,
    Reentry,
    SendNode,
    SplitNode,
    UpdateNode,
    WaitForNode,
    WaitNode,
)
from rumbo.journey.schema import JOURNEY_SCHEMA, NODE_SCHEMAS, NODE_TYPES

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {"weekdays": range(5), "weekends": range(5, 7), "any": range(7)}


def build_journey(doc: Document, catalog: Catalog | None = None, version: int = 1) -> Journey:
    """Compile a document into a Journey, or raise JourneyInvalid with every problem found."""
    builder = _Builder(doc, catalog or Catalog(), version)
    journey = builder.build()
    if builder.problems or journey is None:
        raise JourneyInvalid(builder.problems)
    return journey


def check_document(doc: Document, catalog: Catalog | None = None) -> list[Problem]:
    """Every problem in a document ([] when it is a valid journey)."""
    builder = _Builder(doc, catalog or Catalog(), 1)
    builder.build()
    return builder.problems


def _suggest(name: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f"did you mean {close[0]!r}?" if close else None


class _Builder:
    def __init__(self, doc: Document, catalog: Catalog, version: int) -> None:
        self.doc = doc
        self.catalog = catalog
        self.version = version
        self.problems: list[Problem] = []
        self.needs: set[AggregateNeed] = set()

    # ---- reporting ---------------------------------------------------------------------------------
    def report(self, path: PathKey, message: str, hint: str | None = None) -> None:
        problem = self.doc.problem(path, message, hint)
        # One problem per place: a value the schema already rejected is not reported again by a later check.
        if all(p.path != problem.path for p in self.problems):
            self.problems.append(problem)

    def _schema_problems(self, value: Any, schema: Mapping[str, Any], base: PathKey, what: str) -> bool:
        """Validate `value` against `schema`; report each error readably. True when valid."""
        validator = jsonschema.Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            path = (*base, *error.absolute_path)
            if error.validator == "additionalProperties":
                allowed = sorted(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
                extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
                for name in extra:
                    hint = _suggest(name, allowed) or f"allowed fields: {', '.join(allowed)}"
                    self.report((*path, name), f"unknown field {name!r} in {what}", hint)
            elif error.validator == "required":
                self.report(path, f"{what}: {error.message}", "add the missing field")
            elif error.validator == "pattern" and "duration" in str(error.schema.get("description", "")):
                self.report(
                    path,
                    f"{error.instance!r} is not a duration",
                    "write a number and a unit, e.g. '90s', '15m', '1h', '3d', '2w'",
                )
            elif error.validator == "pattern" and "HH:MM" in str(error.schema.get("description", "")):
                self.report(
                    path,
                    f"{error.instance!r} is not a local time",
                    "write HH:MM on a 24-hour clock, e.g. '09:30'",
                )
            else:
                self.report(path, f"{what}: {error.message}")
        return not errors

    # ---- the whole document ------------------------------------------------------------------------
    def build(self) -> Journey | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.report(
                (),
                "a journey is a mapping with `journey`, `entry` and `nodes`",
                "start the file with `journey: <id>`",
            )
            return None
        top_schema = {**JOURNEY_SCHEMA, "$defs": {}}
        valid = self._schema_problems(data, top_schema, (), "journey")
        if not valid and (
            not isinstance(data.get("nodes"), dict) or not isinstance(data.get("journey"), str)
        ):
            return None
        self.events = self._events(data)
        self.traits = {
            **self.catalog.traits,
            **{k: TYPE_NAMES.get(str(v), Type.ANY) for k, v in (data.get("traits") or {}).items()},
        }
        declared_segments = data.get("segments")
        self.segments: frozenset[str] | None = (
            frozenset(declared_segments) | (self.catalog.segments or frozenset())
            if isinstance(declared_segments, list)
            else self.catalog.segments
        )
        raw_nodes: dict[str, Any] = data.get("nodes") or {}
        self.node_ids = list(raw_nodes)
        offers = self._offers(data.get("offers") or {})
        nodes: dict[str, AnyNode] = {}
        for node_id, body in raw_nodes.items():
            node = self._node(node_id, body, offers)
            if node is not None:
                nodes[node_id] = node
        start = data.get("start", self.node_ids[0] if self.node_ids else "")
        if "start" in data:
            self._node_ref(("start",), start)
        entries = self._entries(data.get("entry"), start)
        goal = self._goal(data.get("goal"))
        exit_on = tuple(
            self._event_rule(("exit_on", i), r, False) for i, r in enumerate(data.get("exit_on") or [])
        )
        jumps = tuple(self._event_rule(("on", i), r, True) for i, r in enumerate(data.get("on") or []))
        quiet = self._quiet_hours(data.get("quiet_hours", True))
        roots = [start, *(e.node for e in entries), *(j.goto for j in jumps if j.goto)]
        for path, message, hint in check_graph(raw_nodes, roots):
            self.report(path, message, hint)
        if self.problems:
            self.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
            return None
        return Journey(
            id=data["journey"],
            version=self.version,
            nodes=nodes,
            entries=entries,
            start=start,
            title=data.get("title"),
            owner=data.get("owner"),
            priority=float(data.get("priority", 50)),
            expected_value=float(data.get("expected_value", 1.0)),
            cap_group=data.get("cap_group"),
            quiet_hours=quiet,
            concurrent_runs=bool(data.get("concurrent_runs", False)),
            reentry=self._reentry(data.get("reentry", "never")),
            goal=goal,
            exit_on=exit_on,
            jumps=jumps,
            offers=offers,
            needs=frozenset(self.needs),
            source=data,
        )

    # ---- names -------------------------------------------------------------------------------------
    def _events(self, data: dict[str, Any]) -> dict[str, dict[str, Type]]:
        events: dict[str, dict[str, Type]] = {name: {} for name in BUILTIN_EVENTS}
        events.update(self.catalog.events)
        for name, spec in (data.get("events") or {}).items():
            props = (spec or {}).get("properties") or {} if isinstance(spec, dict) or spec is None else {}
            events[name] = {p: TYPE_NAMES.get(str(t), Type.ANY) for p, t in props.items()}
        return events

    def _event_ref(self, path: PathKey, name: Any) -> bool:
        if isinstance(name, str) and name not in self.events:
            self.report(
                path,
                f"event {name!r} is not declared",
                _suggest(name, self.events)
                or "declare it under `events:` (with its property types) or in the workspace catalogue",
            )
            return False
        return isinstance(name, str)

    def _node_ref(self, path: PathKey, name: Any) -> bool:
        if isinstance(name, str) and name not in self.node_ids:
            self.report(
                path,
                f"there is no node {name!r}",
                _suggest(name, self.node_ids) or f"nodes are: {', '.join(self.node_ids)}",
            )
            return False
        return isinstance(name, str)

    # ---- values ------------------------------------------------------------------------------------
    def _duration(self, path: PathKey, value: Any) -> float:
        try:
            return parse_duration(value)
        except DurationInvalid as exc:
            self.report(path, f"{value!r} is not a duration", str(exc).split(" — ", 1)[-1])
            return 0.0

    def _clock(self, path: PathKey, value: Any) -> int:
        try:
            hours, minutes = str(value).split(":")
            if 0 <= int(hours) < 24 and 0 <= int(minutes) < 60 and len(minutes) == 2:
                return int(hours) * 60 + int(minutes)
        except ValueError:
            pass
        self.report(path, f"{value!r} is not a local time", "write HH:MM on a 24-hour clock, e.g. '09:30'")
        return 0

    def _timezone(self, path: PathKey, name: Any) -> None:
        try:
            zoneinfo.ZoneInfo(str(name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.report(
                path,
                f"{name!r} is not a time zone",
                _suggest(str(name), zoneinfo.available_timezones())
                or "use an IANA name such as 'Europe/Madrid' or 'America/New_York'",
            )

    def _scope(self, event: str | None, has_event: bool = True) -> Scope:
        props = self.events.get(event, {}) if event else {}
        known = frozenset(self.events)
        return Scope(
            has_event=has_event,
            event_properties=props,
            traits=self.traits,
            known_events=known,
            segments=self.segments,
        )

    def _predicate(self, path: PathKey, source: Any, scope: Scope) -> Predicate | None:
        if source is None:
            return None
        try:
            predicate = compile_predicate(str(source), scope)
        except ExpressionError as exc:
            self.report(path, f"{exc.message} (column {exc.column + 1} of {source!r})", exc.hint)
            return None
        self.needs |= predicate.needs
        return predicate

    def _expression(self, path: PathKey, source: str, scope: Scope) -> Expression | None:
        try:
            expression = compile_expression(source, scope)
        except ExpressionError as exc:
            self.report(path, f"{exc.message} (column {exc.column + 1} of {source!r})", exc.hint)
            return None
        self.needs |= expression.needs
        return expression

    # ---- journey-level parts -----------------------------------------------------------------------
    def _entries(self, raw: Any, start: str) -> tuple[Entry, ...]:
        items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
        base: PathKey = ("entry",)
        entries = []
        for i, item in enumerate(items):
            path = (*base, i) if isinstance(raw, list) else base
            if not isinstance(item, dict):
                continue
            kinds = [k for k in ("event", "segment", "schedule", "api") if k in item]
            if len(kinds) != 1:
                self.report(
                    path,
                    f"an entry needs exactly one of event, segment, schedule, api (found "
                    f"{', '.join(kinds) or 'none'})",
                    "split it into several entries",
                )
                continue
            kind = kinds[0]
            node = item.get("node", start)
            if "node" in item:
                self._node_ref((*path, "node"), node)
            if "where" in item and kind != "event":
                self.report(
                    (*path, "where"),
                    "`where` applies only to event entries",
                    "filter a segment or schedule audience in the segment's own rule",
                )
            if "on" in item and kind != "segment":
                self.report((*path, "on"), "`on: enter|leave` applies only to segment entries")
            if kind == "event":
                event = item["event"]
                self._event_ref((*path, "event"), event)
                where = self._predicate((*path, "where"), item.get("where"), self._scope(event))
                entries.append(Entry("event", node, event=event, where=where))
            elif kind == "segment":
                self._segment_ref((*path, "segment"), item["segment"])
                entries.append(Entry("segment", node, segment=item["segment"], on=item.get("on", "enter")))
            elif kind == "schedule":
                sched = item["schedule"]
                if isinstance(sched, dict):
                    cron = sched.get("cron")
                    if not isinstance(cron, str) or not croniter.is_valid(cron):
                        self.report(
                            (*path, "schedule", "cron"),
                            f"{cron!r} is not a cron expression",
                            "five fields: minute hour day-of-month month day-of-week, e.g. '0 9 * * MON'",
                        )
                    if "timezone" in sched:
                        self._timezone((*path, "schedule", "timezone"), sched["timezone"])
                    if "audience" in sched:
                        self._segment_ref((*path, "schedule", "audience"), sched["audience"])
                    entries.append(
                        Entry(
                            "schedule",
                            node,
                            cron=cron,
                            timezone=sched.get("timezone"),
                            audience=sched.get("audience"),
                        )
                    )
            elif item.get("api") is True:
                entries.append(Entry("api", node))
        return tuple(entries)

    def _segment_ref(self, path: PathKey, name: Any) -> None:
        if self.segments is not None and name not in self.segments:
            self.report(
                path,
                f"segment {name!r} is not known",
                _suggest(str(name), self.segments) or "declare it under `segments:` or in the catalogue",
            )

    def _reentry(self, raw: Any) -> Reentry:
        if raw == "always":
            return Reentry(allowed=True)
        if isinstance(raw, dict):
            cooldown = self._duration(("reentry", "cooldown"), raw["cooldown"]) if "cooldown" in raw else 0.0
            return Reentry(allowed=True, cooldown=cooldown, max=raw.get("max"))
        return Reentry()

    def _goal(self, raw: Any) -> Goal | None:
        if not isinstance(raw, dict) or "event" not in raw:
            return None
        event = raw["event"]
        self._event_ref(("goal", "event"), event)
        within = self._duration(("goal", "within"), raw.get("within", "0s"))
        where = self._predicate(("goal", "where"), raw.get("where"), self._scope(event))
        value = (
            self._expression(("goal", "value"), str(raw["value"]), self._scope(event))
            if "value" in raw
            else None
        )
        return Goal(event, within, where, value, bool(raw.get("exit", True)))

    def _event_rule(self, path: PathKey, raw: Any, jump: bool) -> EventRule:
        event = raw.get("event") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or not isinstance(event, str):
            return EventRule("")
        self._event_ref((*path, "event"), event)
        goto = raw.get("goto") if jump else None
        if goto is not None:
            self._node_ref((*path, "goto"), goto)
        return EventRule(event, self._predicate((*path, "where"), raw.get("where"), self._scope(event)), goto)

    def _quiet_hours(self, raw: Any) -> QuietHours | bool | None:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, dict) and "from" in raw and "to" in raw:
            return QuietHours(
                self._clock(("quiet_hours", "from"), raw["from"]),
                self._clock(("quiet_hours", "to"), raw["to"]),
            )
        return True

    def _offers(self, raw: dict[str, Any]) -> dict[str, Offer]:
        offers = {}
        for offer_id, spec in raw.items():
            if not isinstance(spec, dict):
                continue
            eligible = self._predicate(
                ("offers", offer_id, "eligible"), spec.get("eligible"), self._scope(None)
            )
            offers[offer_id] = Offer(
                offer_id,
                eligible,
                float(spec.get("priority", 0)),
                float(spec.get("value", 1)),
                float(spec.get("propensity", 0.5)),
                spec.get("template"),
            )
        return offers

    # ---- nodes -------------------------------------------------------------------------------------
    def _node(self, node_id: str, body: Any, offers: dict[str, Offer]) -> AnyNode | None:
        path: PathKey = ("nodes", node_id)
        if not isinstance(body, dict):
            self.report(path, "a node is a mapping such as `{wait: {for: 1h}, next: other}`")
            return None
        kinds = [k for k in body if k in NODE_SCHEMAS]
        if len(kinds) != 1:
            self._report_node_type(path, body, kinds)
            return None
        kind = kinds[0]
        if not self._schema_problems(body, NODE_SCHEMAS[kind], path, f"{kind} node"):
            return None
        spec = body[kind]
        nxt = body.get("next")
        if kind == "exit":
            if nxt is not None:
                self.report(
                    (*path, "next"), "an exit node has no `next`", "remove `next`, or use another node type"
                )
            return ExitNode(node_id, (spec or {}).get("reason"))
        if kind == "branch":
            if nxt is not None:
                self.report((*path, "next"), "a branch names its targets in `cases` and `else`, not `next`")
            cases = []
            for i, case in enumerate(spec["cases"]):
                self._node_ref((*path, "branch", "cases", i, "next"), case["next"])
                pred = self._predicate((*path, "branch", "cases", i, "when"), case["when"], self._scope(None))
                if pred is not None:
                    cases.append((pred, case["next"]))
            self._node_ref((*path, "branch", "else"), spec["else"])
            return BranchNode(node_id, tuple(cases), spec["else"])
        if kind == "wait_for":
            targets = self._next_map(path, nxt, ("happened", "timed_out"), required=("happened", "timed_out"))
            self._event_ref((*path, "wait_for", "event"), spec["event"])
            where = self._predicate(
                (*path, "wait_for", "where"), spec.get("where"), self._scope(spec["event"])
            )
            timeout = self._duration((*path, "wait_for", "timeout"), spec["timeout"])
            return WaitForNode(
                node_id,
                spec["event"],
                timeout,
                targets.get("happened", ""),
                targets.get("timed_out", ""),
                where,
            )
        if kind == "split":
            return self._split(node_id, path, spec, nxt)
        if kind == "decide":
            targets = (
                self._next_map(path, nxt, ("chosen", "none"), required=("chosen",))
                if isinstance(nxt, dict)
                else {"chosen": self._single_next(path, nxt)}
            )
            chosen_offers = []
            for i, offer_id in enumerate(spec["offers"]):
                if offer_id not in offers:
                    self.report(
                        (*path, "decide", "offers", i),
                        f"offer {offer_id!r} is not in `offers:`",
                        _suggest(offer_id, offers) or "add it to the journey's `offers:` catalogue",
                    )
                else:
                    chosen_offers.append(offers[offer_id])
            return DecideNode(
                node_id,
                tuple(chosen_offers),
                spec.get("policy", "priority"),
                targets.get("chosen", ""),
                targets.get("none", targets.get("chosen", "")),
            )
        target = self._single_next(path, nxt)
        if kind == "wait":
            return self._wait(node_id, path, spec, target)
        if kind == "send":
            if spec.get("fallback") == spec["channel"]:
                self.report(
                    (*path, "send", "fallback"),
                    "the fallback is the same channel as the send",
                    "name another channel or remove `fallback`",
                )
            if spec.get("fallback") == "best":
                self.report((*path, "send", "fallback"), "`best` cannot be a fallback", "name a channel")
            return SendNode(
                node_id,
                spec["channel"],
                spec["template"],
                target,
                spec.get("fallback"),
                spec.get("topic"),
                bool(spec.get("transactional", False)),
                spec.get("on_conflict", "defer"),
            )
        if kind == "update":
            return self._update(node_id, path, spec, target)
        # emit
        if ("event" in spec) == ("start_journey" in spec):
            self.report((*path, "emit"), "emit needs exactly one of `event` or `start_journey`")
        if (
            "start_journey" in spec
            and self.catalog.journeys is not None
            and spec["start_journey"] not in self.catalog.journeys
        ):
            self.report(
                (*path, "emit", "start_journey"),
                f"there is no journey {spec['start_journey']!r}",
                _suggest(spec["start_journey"], self.catalog.journeys) or "name a published journey",
            )
        return EmitNode(
            node_id, target, spec.get("event"), spec.get("properties") or {}, spec.get("start_journey")
        )

    def _report_node_type(self, path: PathKey, body: dict[str, Any], kinds: list[str]) -> None:
        listing = f"node types: {', '.join(NODE_TYPES)}"
        if kinds:
            self.report(path, f"a node has exactly one type, found {', '.join(kinds)}", listing)
            return
        unknown = [k for k in body if k not in ("next", "title", "description", "owner")]
        if not unknown:
            self.report(path, "the node has no type", listing)
            return
        close = _suggest(unknown[0], NODE_TYPES)
        hint = f"{close} {listing}" if close else listing
        self.report((*path, unknown[0]), f"unknown node type {unknown[0]!r}", hint)

    def _single_next(self, path: PathKey, nxt: Any) -> str:
        if nxt is None:
            self.report(
                path, "the node has no `next`", "name the node that follows, or end with an exit node"
            )
            return ""
        if not isinstance(nxt, str):
            self.report((*path, "next"), "this node type takes one `next` node, not a map")
            return ""
        self._node_ref((*path, "next"), nxt)
        return nxt

    def _next_map(
        self, path: PathKey, nxt: Any, keys: tuple[str, ...], required: tuple[str, ...]
    ) -> dict[str, str]:
        if not isinstance(nxt, dict):
            self.report(
                (*path, "next") if nxt is not None else path,
                f"`next` must map {', '.join(keys)} to nodes",
                "e.g. `next: {" + ", ".join(f"{k}: <node>" for k in keys) + "}`",
            )
            return {}
        for key in nxt:
            if key not in keys:
                self.report(
                    (*path, "next", key), f"unknown outcome {key!r}", f"outcomes here: {', '.join(keys)}"
                )
        for key in required:
            if key not in nxt:
                self.report((*path, "next"), f"`next` has no {key!r} outcome", f"add `{key}: <node>`")
        for key, target in nxt.items():
            self._node_ref((*path, "next", key), target)
        return {k: v for k, v in nxt.items() if k in keys}

    def _wait(self, node_id: str, path: PathKey, spec: dict[str, Any], target: str) -> WaitNode | None:
        modes = [m for m in ("for", "window", "until_trait") if m in spec]
        if len(modes) != 1:
            self.report(
                (*path, "wait"),
                f"a wait needs exactly one of for, window, until_trait (found {', '.join(modes) or 'none'})",
                "e.g. `wait: {for: 1h}`",
            )
            return None
        for extra in ("offset", "at", "if_past"):
            if extra in spec and modes[0] != "until_trait":
                self.report((*path, "wait", extra), f"`{extra}` applies only to `until_trait` waits")
        if modes[0] == "for":
            return WaitNode(node_id, target, seconds=self._duration((*path, "wait", "for"), spec["for"]))
        if modes[0] == "window":
            window = spec["window"]
            days_raw = window.get("days", "any")
            days = (
                frozenset(_DAY_SETS[days_raw])
                if isinstance(days_raw, str)
                else frozenset(_DAY_NAMES.index(d) for d in days_raw)
            )
            start = self._clock((*path, "wait", "window", "from"), window["from"])
            end = self._clock((*path, "wait", "window", "to"), window["to"])
            if start == end:
                self.report(
                    (*path, "wait", "window"),
                    "the window is empty (from equals to)",
                    "give a window such as from '09:00' to '11:00'",
                )
            return WaitNode(node_id, target, window=LocalWindow(days, start, end))
        trait = str(spec["until_trait"]).removeprefix("profile.").removeprefix("traits.")
        offset = self._duration((*path, "wait", "offset"), spec["offset"]) if "offset" in spec else 0.0
        at = self._clock((*path, "wait", "at"), spec["at"]) if "at" in spec else None
        return WaitNode(
            node_id, target, until_trait=trait, offset=offset, at=at, if_past=spec.get("if_past", "continue")
        )

    def _split(self, node_id: str, path: PathKey, spec: dict[str, Any], nxt: Any) -> SplitNode:
        variants: dict[str, float] = spec["variants"]
        total = sum(variants.values())
        if abs(total - 100) > 1e-9:
            self.report(
                (*path, "split", "variants"),
                f"variant weights add up to {total:g}, not 100",
                "weights are percentages of the customers who are not held out",
            )
        holdout = float(spec.get("holdout", 0))
        outcomes = (*variants, "holdout") if holdout else tuple(variants)
        if "holdout" in variants:
            self.report(
                (*path, "split", "variants", "holdout"),
                "`holdout` is reserved for the control group",
                "set `holdout: <percent>` beside `variants`",
            )
        required = tuple(variants)
        targets = self._next_map(path, nxt, outcomes, required)
        cumulative, acc = [], 0.0
        for name, weight in variants.items():
            acc += weight / (total or 1)
            cumulative.append((name, acc))
        mapping: dict[str, str | None] = {**targets}
        mapping.setdefault("holdout", None)
        return SplitNode(node_id, tuple(cumulative), holdout / 100, mapping)

    def _update(self, node_id: str, path: PathKey, spec: dict[str, Any], target: str) -> UpdateNode:
        sets: list[tuple[str, Any]] = []
        for key, value in (spec.get("set") or {}).items():
            if isinstance(value, str) and value.startswith("="):
                expression = self._expression((*path, "update", "set", key), value[1:], self._scope(None))
                sets.append((key, expression))
            else:
                sets.append((key, value))
        return UpdateNode(
            node_id,
            target,
            tuple(sets),
            tuple((k, float(v)) for k, v in (spec.get("increment") or {}).items()),
            tuple(spec.get("unset") or ()),
            tuple(spec.get("add_tags") or ()),
            tuple(spec.get("remove_tags") or ()),
        )
