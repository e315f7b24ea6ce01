"""The request and response bodies of the management API, typed so the OpenAPI document is precise."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"
WORKSPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
MAX_DOCUMENT = 1_000_000  # characters: far above any real journey, low enough to keep a request cheap
Channel = Literal["email", "sms", "push", "webhook", "inbox", "offline"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_offset` is the offset of the next page, None on the last."""

    items: list[T]
    next_offset: int | None


class ProblemOut(BaseModel):
    path: str = Field(description="JSON path of the problem, e.g. `$.nodes.email.send`")
    message: str
    hint: str | None = Field(None, description="what to do about it")
    line: int | None = Field(None, description="line in the journey document, when there is one")
    column: int | None = None


class ErrorOut(BaseModel):
    error: str = Field(description="what was refused and why")
    problems: list[ProblemOut] = Field(default_factory=list)


# --- workspaces and keys --------------------------------------------------------------------------------


class WorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=WORKSPACE_PATTERN, description="the workspace id")


class WorkspaceKeysOut(BaseModel):
    workspace: str
    write_key: str = Field(description="for sending events (Segment/RudderStack SDKs); shown once")
    admin_key: str = Field(description="for this API; shown once")


class WorkspaceOut(BaseModel):
    workspace: str
    revision: int = Field(description="grows on every catalogue change workers reload for")


class RotatedKeyOut(BaseModel):
    workspace: str
    role: Literal["write", "admin"]
    key: str = Field(description="the new key, shown once; the old one no longer works")
    key_id: str = Field(description="how the audit log names this key")


# --- journeys -------------------------------------------------------------------------------------------


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: str = Field(
        min_length=1, max_length=MAX_DOCUMENT, description="the journey as YAML or JSON text"
    )


class JourneyOut(BaseModel):
    journey: str
    state: Literal["draft", "live", "paused", "stopped", "archived"]
    draft: str | None = Field(description="the unpublished draft, None when the latest version is current")
    draft_revision: int = Field(
        description="send as If-Match when publishing, so nobody else's edit goes live"
    )
    latest_version: int = Field(description="0 before the first publish")
    created_at: float
    updated_at: float


class ValidationOut(BaseModel):
    journey: str
    draft_revision: int
    valid: bool
    problems: list[ProblemOut]


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    in_flight: Literal["drain", "migrate", "stop"] = Field(
        "drain",
        description="runs on older versions: drain (finish where they are), migrate (move to this version, "
        "by `mapping` or same node id), stop (end them)",
    )
    mapping: dict[str, str] = Field(default_factory=dict, description="for migrate: old node -> new node")
    dry_run: bool = Field(False, description="check and show the migration plan without publishing")
    expected_revision: int | None = Field(None, description="the draft revision validated (or If-Match)")


class MoveOut(BaseModel):
    from_version: int
    from_node: str
    to_node: str = Field(description="the node runs there continue at; `stopped` or `stays` otherwise")
    runs: int = Field(0, description="how many runs wait there now")


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer: str = Field(
        min_length=1,
        max_length=1000,
        description="a customer id, or an identifier: a user id, an anonymous id, or kind:value "
        "(email:ana@example.com)",
    )
    properties: dict[str, Any] = Field(
        default_factory=dict, description="what the journey's predicates read as `event.properties`"
    )
    messageId: str | None = Field(
        None, min_length=1, max_length=200, description="a start sent again with the same id is applied once"
    )


class StartOut(BaseModel):
    journey: str
    customer: str = Field(description="the customer id the start was resolved to")
    messageId: str = Field(description="the start's id in the customer's log")
    new: bool = Field(description="False when a start with this messageId was accepted before")


class PublishOut(BaseModel):
    journey: str
    published: bool = Field(description="False on a dry run")
    version: int = Field(description="the version published (on a dry run: the one it would be)")
    in_flight: Literal["drain", "migrate", "stop"]
    mapping: dict[str, str]
    plan: list[MoveOut] = Field(description="where runs waiting on each node of earlier versions go")


class VersionOut(BaseModel):
    journey: str
    version: int
    document: str
    in_flight: Literal["drain", "migrate", "stop"]
    mapping: dict[str, str]
    published_at: float


class DiffOut(BaseModel):
    journey: str
    from_: str = Field(alias="from")
    to: str
    diff: str = Field(description="a unified diff of the two documents ('' when they are the same)")

    model_config = ConfigDict(populate_by_name=True)


# --- segments, offers, templates, tracking plans ----------------------------------------------------------


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str = Field(min_length=1, max_length=10_000, description="a predicate over profile and aggregates")
    refresh: float | None = Field(
        None, gt=0, le=366 * 86400, description="seconds between re-evaluations; None: on change only"
    )
    description: str = Field("", max_length=10_000)


class SegmentOut(SegmentIn):
    name: str


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field("", max_length=1000)
    eligible: str | None = Field(None, min_length=1, max_length=10_000, description="a predicate")
    priority: float = Field(0.0, ge=-1e9, le=1e9)
    value: float = Field(1.0, ge=0, le=1e12)
    propensity: float = Field(0.5, ge=0, le=1)
    template: str | None = Field(None, pattern=NAME_PATTERN, description="a template of this workspace")


class OfferOut(OfferIn):
    name: str
    updated_at: float


class TemplateIn(BaseModel):
    """A message template: its channel and its parts (subject, body, …); the delivery layer reads the
    rest of the document, which is kept as given."""

    model_config = ConfigDict(extra="allow")
    channel: Channel
    parts: dict[str, Any] = Field(min_length=1, description="the message parts, e.g. subject, text, html")


class TemplateOut(BaseModel):
    name: str
    channel: Channel
    parts: dict[str, Any]
    document: dict[str, Any] = Field(description="the whole template document as stored")
    updated_at: float


class TrackingPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any] = Field(description="the tracking plan (docs/ingest.md)")


class TrackingPlanOut(BaseModel):
    version: int
    document: dict[str, Any]
    created_at: float


# --- settings -------------------------------------------------------------------------------------------


class CapSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max: int = Field(ge=1, le=1_000_000)
    per: float = Field(gt=0, le=366 * 86400, description="the sliding window, in seconds")
    channel: Channel | None = None
    group: str | None = Field(None, pattern=NAME_PATTERN)


class QuietHoursSetting(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local time")
    to: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class SettingsIn(BaseModel):
    """Workspace-level send-gate settings; a field left out keeps rumbo's default (docs/engine.md)."""

    model_config = ConfigDict(extra="forbid")
    caps: list[CapSetting] | None = Field(None, max_length=100)
    quiet_hours: QuietHoursSetting | None = Field(None, description="null turns quiet hours off")
    timezone: str | None = Field(None, max_length=100, description="IANA zone for customers without one")
    holdout: float | None = Field(None, ge=0, lt=1, description="programme-wide control group share")
    channel_order: list[Channel] | None = Field(None, max_length=10, description="for `channel: best`")
    on_cap: Literal["drop", "defer"] | None = None


class AuditOut(BaseModel):
    id: int
    at: float
    actor_role: str = Field(description="admin (an admin key), cli (the rumbo command) or instance")
    actor_key: str | None = Field(description="the key's id (a prefix of its hash), never the key")
    kind: str
    name: str
    action: str
    detail: dict[str, Any] = Field(description="what changed: before/after, or a diff")


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_before: int | None = Field(description="pass as `before` for the next (older) page")
