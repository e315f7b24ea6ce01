"""The column mapping: which column of a file becomes which field of a Segment message, and as what type.

A mapping is a YAML document (`--mapping FILE`), to which `--map COLUMN=FIELD[:TYPE]` and `--set
FIELD=VALUE` options add (an option wins over the file for the same column or field):

    type: track                      # the call every row makes: track (the default) or identify
    event: order_completed           # track's event name when no column holds one
    timezone: Europe/Madrid          # for times written without an offset (default UTC)
    time_format: "%d/%m/%Y %H:%M"    # iso (the default), epoch, epoch_ms or a strftime pattern
    delimiter: ";"                   # CSV only (default ",")
    encoding: latin-1                # CSV only (default utf-8)
    unmapped: properties             # columns not named below: properties (track's default),
                                     # traits (identify's default) or ignore
    columns:
      customer_id: userId
      total: {field: properties.revenue, type: number}
      sold_at: {field: timestamp, format: "%Y%m%d %H%M"}
    set:                             # one value for every row
      context.channel: store

A FIELD is a message field (`userId`, `anonymousId`, `messageId`, `event`, `timestamp`, `type`, `name`,
`category`, `groupId`, `previousId`), a place inside `properties.…`, `traits.…` or `context.…` (dots nest),
a whole `properties`/`traits`/`context` object, `email` or `phone` (identifiers: into `traits` on identify,
into `context.traits` on other calls, where identity resolution reads them), or `externalIds.KIND` (a
custom identifier such as a CRM id, into `context.externalIds`). A TYPE is one of `coerce.KINDS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal, cast

import yaml

from rumbo.ingest.files.coerce import KINDS, TIME_FORMATS, Kind, zone_named
from rumbo.ingest.files.errors import MappingInvalid

Unmapped = Literal["properties", "traits", "ignore"]
UNMAPPED: Final = ("properties", "traits", "ignore")
CALL_TYPES: Final = ("track", "identify")
# Message fields a column can fill as they are; a file column of the same name goes there unasked.
TOP_FIELDS: Final = (
    "userId",
    "anonymousId",
    "messageId",
    "event",
    "timestamp",
    "type",
    "name",
    "category",
    "groupId",
    "previousId",
)
SECTIONS: Final = ("properties", "traits", "context")
IDENTIFIER_FIELDS: Final = ("email", "phone")
EXTERNAL_IDS: Final = "externalIds."
# Columns rumbo writes into a rejects file; importing that file again reads them, never maps them.
RESERVED_PREFIX: Final = "rumbo_"
_KEYS: Final = (
    "type",
    "event",
    "timezone",
    "time_format",
    "delimiter",
    "encoding",
    "unmapped",
    "columns",
    "set",
)
_EXTERNAL_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """One column into one field, converted to `kind`; `time_format` overrides the mapping's for it."""

    column: str
    field: str
    kind: Kind = "keep"
    time_format: str | None = None


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """A whole mapping, as written; `rows.RowMapper` binds it to the columns of one file."""

    call: str = "track"
    event: str | None = None
    columns: tuple[ColumnRule, ...] = ()
    constants: tuple[tuple[str, Any], ...] = ()
    unmapped: Unmapped | None = None  # None: properties for track, traits for identify
    timezone: str = "UTC"
    time_format: str = "iso"
    delimiter: str = ","
    encoding: str = "utf-8"
    source: str = "the command line"
    notes: tuple[str, ...] = field(default=())  # said in the report (what an option overrode)

    @property
    def rest(self) -> Unmapped:
        """Where columns the mapping does not name go."""
        if self.unmapped is not None:
            return self.unmapped
        return "traits" if self.call == "identify" else "properties"


def field_problem(name: str) -> str | None:
    """Why `name` is not a field a column can fill, or None when it is one."""
    if name in TOP_FIELDS or name in SECTIONS or name in IDENTIFIER_FIELDS:
        return None
    if name.startswith(EXTERNAL_IDS):
        kind = name[len(EXTERNAL_IDS) :]
        if _EXTERNAL_KIND.match(kind):
            return None
        return f"{name!r}: an external id kind is a lower-case name such as externalIds.crm_id"
    section, dot, rest = name.partition(".")
    if section in SECTIONS and dot and all(rest.split(".")):
        return None
    return (
        f"{name!r} is not a message field — use userId, anonymousId, messageId, event, timestamp, email, "
        "phone, properties.NAME, traits.NAME, context.NAME or externalIds.KIND"
    )


def _rule(column: str, body: Any, where: str, problems: list[str]) -> ColumnRule | None:
    if isinstance(body, str):
        body = {"field": body}
    if not isinstance(body, dict):
        problems.append(f"{where}: write a field name, or {{field: …, type: …, format: …}}")
        return None
    unknown = [key for key in body if key not in ("field", "type", "format")]
    if unknown:
        problems.append(f"{where}: unknown key {unknown[0]!r} — use field, type, format")
    target = body.get("field")
    if not isinstance(target, str) or not target:
        problems.append(f"{where}.field: required, the message field the column fills")
        return None
    problem = field_problem(target)
    if problem is not None:
        problems.append(f"{where}.field: {problem}")
    kind = body.get("type", "timestamp" if target == "timestamp" else "keep")
    if kind not in KINDS:
        problems.append(f"{where}.type: {kind!r} is not a type — use one of {', '.join(KINDS)}")
        kind = "keep"
    time_format = body.get("format")
    if time_format is not None and (not isinstance(time_format, str) or not time_format):
        problems.append(f"{where}.format: write iso, epoch, epoch_ms or a strftime pattern")
        time_format = None
    return ColumnRule(column, target, cast(Kind, kind), time_format)


def _check(mapping: ColumnMapping, problems: list[str]) -> None:
    """Problems that do not depend on the file, for a mapping from YAML or options alike."""
    if mapping.call not in CALL_TYPES:
        problems.append(f"type: {mapping.call!r} is not a call — use track or identify")
    if mapping.event is not None and mapping.call != "track":
        problems.append("event: only track calls have an event name; leave it out for identify")
    if mapping.unmapped is not None and mapping.unmapped not in UNMAPPED:
        problems.append(f"unmapped: {mapping.unmapped!r} — use one of {', '.join(UNMAPPED)}")
    try:
        zone_named(mapping.timezone)
    except ValueError as exc:
        problems.append(f"timezone: {exc}")
    formats = [("time_format", mapping.time_format)]
    formats += [(f"column {r.column!r}", r.time_format) for r in mapping.columns if r.time_format is not None]
    for where, time_format in formats:
        if time_format not in TIME_FORMATS and "%" not in time_format:
            problems.append(
                f"{where}: time format {time_format!r} — use iso, epoch, epoch_ms or a strftime pattern "
                "such as %d/%m/%Y %H:%M"
            )
    if len(mapping.delimiter) != 1:
        problems.append(f"delimiter: {mapping.delimiter!r} must be one character")
    try:
        "".encode(mapping.encoding)
    except LookupError:
        problems.append(f"encoding: {mapping.encoding!r} is not an encoding Python knows (utf-8, latin-1…)")
    for name, _ in mapping.constants:
        problem = field_problem(name)
        if problem is not None:
            problems.append(f"set.{name}: {problem}")
    targets = [rule.field for rule in mapping.columns if rule.field not in ("properties", "traits")]
    doubled = sorted({name for name in targets if targets.count(name) > 1 and not _repeatable(name)})
    for name in doubled:
        columns = [rule.column for rule in mapping.columns if rule.field == name]
        problems.append(f"columns {', '.join(map(repr, columns))} all fill {name!r}; map only one")


def _repeatable(name: str) -> bool:
    return name.startswith(EXTERNAL_IDS)


def mapping_from_document(document: Any, source: str) -> ColumnMapping:
    """A mapping from its parsed YAML, refusing it with every problem listed by key."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise MappingInvalid(
            source, ["the document must be a mapping with keys such as columns, type, event"]
        )
    problems = [f"{key}: unknown key — use {', '.join(_KEYS)}" for key in document if key not in _KEYS]
    texts = {}
    for key in ("type", "event", "timezone", "time_format", "delimiter", "encoding", "unmapped"):
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"{key}: must be text, got {value!r}")
        elif value is not None:
            texts[key] = value
    columns = document.get("columns") or {}
    rules = []
    if not isinstance(columns, dict):
        problems.append("columns: write one `COLUMN: FIELD` per line")
    else:
        for column, body in columns.items():
            rule = _rule(str(column), body, f"columns.{column}", problems)
            if rule is not None:
                rules.append(rule)
    constants = document.get("set") or {}
    if not isinstance(constants, dict):
        problems.append("set: write one `FIELD: VALUE` per line")
        constants = {}
    mapping = ColumnMapping(
        call=texts.get("type", "track"),
        event=texts.get("event"),
        columns=tuple(rules),
        constants=tuple((str(name), value) for name, value in constants.items()),
        unmapped=cast(Unmapped | None, texts.get("unmapped")),
        timezone=texts.get("timezone", "UTC"),
        time_format=texts.get("time_format", "iso"),
        delimiter=texts.get("delimiter", ","),
        encoding=texts.get("encoding", "utf-8"),
        source=source,
    )
    _check(mapping, problems)
    if problems:
        raise MappingInvalid(source, problems)
    return mapping


def load_mapping(path: Path) -> ColumnMapping:
    """The mapping in a YAML (or JSON) file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingInvalid(str(path), [f"cannot be read: {exc}"]) from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingInvalid(str(path), [f"is not YAML: {exc}"]) from exc
    return mapping_from_document(document, str(path))


def _parse_map_option(option: str, problems: list[str]) -> ColumnRule | None:
    column, sep, target = option.partition("=")
    if not sep or not column or not target:
        problems.append(
            f"--map {option!r}: write COLUMN=FIELD or COLUMN=FIELD:TYPE, e.g. total=properties.revenue:number"
        )
        return None
    name, _, suffix = target.partition(":")
    body: dict[str, Any] = {"field": name}
    if suffix in KINDS:
        body["type"] = suffix
    elif suffix and (name == "timestamp" or suffix in TIME_FORMATS or "%" in suffix):
        body["format"] = suffix  # COLUMN=timestamp:%d/%m/%Y: the way the column writes its times
    elif suffix:
        problems.append(f"--map {option!r}: {suffix!r} is not a type — use one of {', '.join(KINDS)}")
        return None
    return _rule(column, body, f"--map {option}", problems)


def _parse_set_option(option: str, problems: list[str]) -> tuple[str, Any] | None:
    name, sep, value = option.partition("=")
    if not sep or not name:
        problems.append(f"--set {option!r}: write FIELD=VALUE, e.g. context.channel=store")
        return None
    return name, value


def with_options(
    mapping: ColumnMapping,
    *,
    maps: Iterable[str] = (),
    sets: Iterable[str] = (),
    call: str | None = None,
    event: str | None = None,
    timezone: str | None = None,
) -> ColumnMapping:
    """`mapping` with the command line's `--map`, `--set`, `--type`, `--event` and `--timezone` applied."""
    problems: list[str] = []
    rules = [rule for rule in (_parse_map_option(option, problems) for option in maps) if rule is not None]
    constants = [c for c in (_parse_set_option(option, problems) for option in sets) if c is not None]
    if problems:
        raise MappingInvalid("the command line", problems)
    overridden = {rule.column for rule in rules}
    notes = [
        f"--map {rule.column}={rule.field} replaces the mapping file's rule"
        for rule in rules
        if any(old.column == rule.column for old in mapping.columns)
    ]
    set_names = {name for name, _ in constants}
    changes: dict[str, Any] = {
        "columns": tuple(r for r in mapping.columns if r.column not in overridden) + tuple(rules),
        "constants": tuple(c for c in mapping.constants if c[0] not in set_names) + tuple(constants),
        "notes": mapping.notes + tuple(notes),
    }
    if call is not None:
        changes["call"] = call
        if call != "track" and event is None:
            changes["event"] = None
    if event is not None:
        changes["event"] = event
    if timezone is not None:
        changes["timezone"] = timezone
    merged = replace(mapping, **changes)
    _check(merged, problems)
    if problems:
        raise MappingInvalid(mapping.source, problems)
    return merged
