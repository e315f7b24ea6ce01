"""One row of a file made into one Segment message, by a column mapping bound to the file's columns.

Binding checks the mapping against the columns before any row is read (a column the file lacks, a track
import with no event name, nothing that identifies a customer), so a wrong mapping stops the import before
it writes anything. Each row then becomes a message, or a list of `Issue`s saying which column failed how;
the message goes on to ingestion's own checks, the tracking plan and identity resolution like any message
sent over HTTP.

A row without a messageId column gets one from the file's name, the row's line and its content, so
importing the same file again stores nothing twice, while two equal rows (two identical purchases) are
still two events. A rejects file carries each row's id in `rumbo_message_id`, so a fixed row imported from
it keeps its id (and clears its dead letter).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from rumbo.identity import IdentifierInvalid, identifier
from rumbo.ingest.errors import Issue, child
from rumbo.ingest.files.coerce import NotConvertible, converter, zone_named
from rumbo.ingest.files.errors import MappingInvalid
from rumbo.ingest.files.mapping import (
    EXTERNAL_IDS,
    IDENTIFIER_FIELDS,
    RESERVED_PREFIX,
    SECTIONS,
    TOP_FIELDS,
    ColumnMapping,
    ColumnRule,
)

MESSAGE_ID_COLUMN: Final = RESERVED_PREFIX + "message_id"
_IDENTIFYING: Final = ("userId", "anonymousId", "traits", "context", *IDENTIFIER_FIELDS)


@dataclass(frozen=True, slots=True)
class Target:
    """A column bound to the field it fills, with its converter and where the field is in a message."""

    column: str
    field: str
    convert: Callable[[Any], Any]
    place: tuple[str, ...]  # in an identify call
    place_other: tuple[str, ...]  # in every other call (email and phone differ)

    @classmethod
    def of(cls, column: str, name: str, convert: Callable[[Any], Any]) -> Target:
        return cls(column, name, convert, _path(name, "identify"), _path(name, "track"))


def _path(name: str, call: str) -> tuple[str, ...]:
    """Where a field lives in a message of `call` type."""
    if name in IDENTIFIER_FIELDS:
        return ("traits", name) if call == "identify" else ("context", "traits", name)
    return tuple(name.split("."))


def json_path(name: str, call: str) -> str:
    """The JSON path ingestion would report for a field (`$.context.traits.email`)."""
    if name.startswith(EXTERNAL_IDS):
        return "$.context.externalIds"
    path = "$"
    for key in _path(name, call):
        path = child(path, key)
    return path


def _put(message: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    if len(path) == 1 and value.__class__ is not dict:
        message[path[0]] = value
        return
    if path[0] == "externalIds":
        ids = message.setdefault("context", {}).setdefault("externalIds", [])
        ids.append({"id": str(value), "type": path[1]})
        return
    place = message
    for key in path[:-1]:
        inner = place.get(key)
        if inner is None:
            inner = place[key] = {}
        elif not isinstance(inner, dict):
            raise NotConvertible(f"cannot go inside {key!r}, which another column filled with a non-object")
        place = inner
    last = path[-1]
    if isinstance(value, dict) and isinstance(place.get(last), dict):
        place[last] = {**value, **place[last]}  # a whole-object column under the fields mapped one by one
    else:
        place[last] = value


def generated_id(source: str, line: int, row: dict[str, Any]) -> str:
    """The messageId of a row that brings none: the same for the same file name, line and content."""
    digest = hashlib.sha256(f"{source}\x00{line}\x00".encode())
    digest.update(orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str))
    return "import-" + digest.hexdigest()[:32]


@dataclass(slots=True)
class RowMapper:
    """A mapping bound to one file's columns; `message(row, line)` makes each row's message."""

    mapping: ColumnMapping
    file: str  # the file's name, in messageIds and errors
    targets: dict[str, Target] = field(default_factory=dict)  # by column
    folded: list[str] = field(default_factory=list)  # columns put into properties or traits unasked
    ignored: list[str] = field(default_factory=list)
    complete: bool = True  # False: the columns known at binding may not be all (JSON lines)
    _columns: dict[str, str] = field(default_factory=dict)  # JSON path -> column, to name it in issues
    _seen: set[str] = field(default_factory=set)
    _type_column: str | None = None  # the column holding each row's call type, if one does

    @classmethod
    def bind(
        cls, mapping: ColumnMapping, columns: Sequence[str], file: str, *, complete: bool = True
    ) -> RowMapper:
        """Bind `mapping` to `columns`. With `complete` false (JSON lines, where a key may first appear
        far into the file) the columns are those of the first rows, and a key seen later joins then."""
        problems: list[str] = []
        available = set(columns)
        for rule in mapping.columns:
            if rule.column not in available:
                what = "has no column" if complete else "has no key in its first rows"
                problems.append(
                    f"columns.{rule.column}: {file} {what} {rule.column!r}; it has "
                    f"{', '.join(map(repr, columns)) or 'none'} — check the spelling, or map another"
                )
        mapper = cls(mapping, file, complete=complete)
        for rule in mapping.columns:
            mapper._add(rule)
        for column in columns:
            mapper._auto(column)
        fields = {target.field for target in mapper.targets.values()} | {
            name for name, _ in mapping.constants
        }
        if mapping.call == "track" and mapping.event is None and not fields & {"event", "type"}:
            problems.append(
                "track events need a name: give --event NAME, `event: NAME` in the mapping, or map a column "
                "to event"
            )
        if not any(name in _IDENTIFYING or name.startswith(EXTERNAL_IDS) for name in fields) and not any(
            name.split(".")[0] in ("traits", "context") for name in fields
        ):
            problems.append(
                "nothing identifies the customer: map a column to userId, anonymousId, email, phone or "
                "externalIds.KIND (a CRM id, say)"
            )
        if problems:
            raise MappingInvalid(mapping.source, problems)
        return mapper

    def _add(self, rule: ColumnRule) -> None:
        zone = zone_named(self.mapping.timezone)
        time_format = rule.time_format or self.mapping.time_format
        self.targets[rule.column] = Target.of(
            rule.column, rule.field, converter(rule.kind, time_format, zone)
        )
        self._seen.add(rule.column)
        if rule.field == "type":
            self._type_column = rule.column
        for call in ("track", "identify"):
            self._columns.setdefault(json_path(rule.field, call), rule.column)

    def _auto(self, column: str) -> None:
        """Place a column the mapping does not name: a message field of the same name, else `unmapped`."""
        if column in self._seen:
            return
        self._seen.add(column)
        if column.startswith(RESERVED_PREFIX):
            return
        fields = {target.field for target in self.targets.values()}
        if column in (*TOP_FIELDS, *SECTIONS, *IDENTIFIER_FIELDS) and column not in fields:
            self._add(ColumnRule(column, column, "timestamp" if column == "timestamp" else "keep"))
        elif self.mapping.rest == "ignore":
            self.ignored.append(column)
        else:
            self._add(ColumnRule(column, f"{self.mapping.rest}.{column}"))
            self.folded.append(column)

    def column_of(self, path: str) -> str | None:
        """The column behind a JSON path of a message (or behind the nearest field holding it)."""
        while path:
            column = self._columns.get(path)
            if column is not None:
                return column
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None

    def message(self, row: dict[str, Any], line: int) -> tuple[dict[str, Any], list[Issue]]:
        """The message of one row and the problems found making it (none: the message can be ingested)."""
        if not self.complete:  # JSON lines: a key may first appear in any row
            for column in row:
                if column not in self._seen:
                    self._auto(column)
        mapping = self.mapping
        call = mapping.call
        if self._type_column is not None:
            given = row.get(self._type_column)
            call = given.strip() if isinstance(given, str) and given.strip() else call
        message: dict[str, Any] = {"type": call}
        if mapping.event is not None and call == "track":
            message["event"] = mapping.event
        issues: list[Issue] = []
        identify = call == "identify"
        for name, value in mapping.constants:
            # A copy: a later column may add to an object given here, and the next row needs it unchanged.
            _put(
                message, _path(name, call), copy.deepcopy(value) if isinstance(value, dict | list) else value
            )
        for target in self.targets.values():
            value = row.get(target.column)
            if value is None or (value.__class__ is str and not value.strip()):
                continue
            try:
                _put(message, target.place if identify else target.place_other, target.convert(value))
            except NotConvertible as exc:
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
                issues.append(
                    Issue(json_path(target.field, call), f'column "{target.column}": {shown} {exc}')
                )
        message["type"] = call  # as read from its column, trimmed
        if "messageId" not in message:
            given = row.get(MESSAGE_ID_COLUMN)
            message["messageId"] = str(given) if given else generated_id(self.file, line, row)
        if not issues and message.get("userId") is None and message.get("anonymousId") is None:
            issue = _anonymous_id(message)
            if issue is not None:
                issues.append(issue)
        return message, issues


def _anonymous_id(message: dict[str, Any]) -> Issue | None:
    """Give a message identified only by an email, phone or external id the anonymousId
    `KIND:VALUE`, since every Segment call but alias needs a userId or an anonymousId."""
    context: dict[str, Any] = message.get("context") or {}
    candidates: list[tuple[str, Any, str]] = []
    for base, traits in (("$.traits", message.get("traits")), ("$.context.traits", context.get("traits"))):
        if isinstance(traits, dict):
            candidates += [(kind, traits.get(kind), f"{base}.{kind}") for kind in IDENTIFIER_FIELDS]
    for n, item in enumerate(context.get("externalIds") or []):
        if isinstance(item, dict):
            candidates.append((str(item.get("type")), item.get("id"), f"$.context.externalIds[{n}]"))
    for kind, value, where in candidates:
        if value is None:
            continue
        try:
            found = identifier(kind, value, where=where)
        except IdentifierInvalid as exc:
            return Issue(where, str(exc))
        message["anonymousId"] = f"{found.kind}:{found.value}"
        return None
    return None
