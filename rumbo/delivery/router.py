"""The delivery endpoints as a FastAPI router: tracking, provider feedback, preferences, inbox, offline.

`delivery_router(open_store, secret)` builds it; the server mounts it (e.g. under `/delivery`), and the
relay's `base_url` must point there so that the links in messages reach it. Every outcome the endpoints
learn becomes an event in the log (see `outcomes.py`). Endpoints for people (tracking, preferences) are
authorised by signed tokens; endpoints for systems by the workspace's admin key (`Authorization: Bearer
ra_…`) or, for provider feedback, an HMAC signature. The full list is in docs/delivery.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Body, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rumbo.delivery.errors import TemplateError
from rumbo.delivery.message import Profile, SendOrder
from rumbo.delivery.outcomes import delivery_record, iso, outcome_event, pause_targets
from rumbo.delivery.templates import Renderer, TemplateSource, preview
from rumbo.delivery.tokens import BadToken, Links, verify
from rumbo.engine.commands import Send
from rumbo.records import DeliveryStatus
from rumbo.store.base import NewEvent
from rumbo.store.deliveries import DeliveryStore, SendInfo, Thresholds
from rumbo.store.sql import SqlStore

_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
FEEDBACK_MAX_AGE = 300.0  # seconds a signed feedback request stays valid: older ones are replays


def feedback_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """What a provider (or its adapter) puts in X-Rumbo-Signature when it posts feedback."""
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def delivery_router(
    open_store: Callable[[], SqlStore],
    secret: bytes,
    *,
    templates: TemplateSource | None = None,
    thresholds: Thresholds | None = None,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The delivery endpoints. `secret` must be the relay's `secret`, which signed the links in messages."""
    if not secret:
        raise ValueError("delivery_router needs a non-empty secret (the one the relay signs links with)")
    router = APIRouter(tags=["delivery"])
    limits = thresholds or Thresholds()
    renderer = Renderer(templates) if templates is not None else None

    @contextmanager
    def deliveries() -> Iterator[DeliveryStore]:
        store = open_store()
        try:
            yield DeliveryStore(store)
        finally:
            store.close()

    def token(purpose: Any, t: str) -> dict[str, Any]:
        try:
            return verify(secret, purpose, t)
        except BadToken as exc:
            raise HTTPException(400, f"invalid link: {exc}") from exc

    def send_of(ds: DeliveryStore, workspace: str, key: str) -> SendInfo:
        info = ds.sends(workspace, [key]).get(key)
        if info is None:
            raise HTTPException(404, f"no send {key!r} in workspace {workspace!r}")
        return info

    def outcome(
        ds: DeliveryStore,
        workspace: str,
        info: SendInfo,
        status: DeliveryStatus,
        props: dict[str, Any] | None = None,
        *,
        count: bool = True,
        message_id: str | None = None,
    ) -> tuple[bool, list[str]]:
        at = clock()
        event = outcome_event(
            workspace, info, status, at=at, received_at=at, properties=props, message_id=message_id
        )
        return ds.record_outcome(
            workspace,
            event,
            delivery_record(workspace, info, status, at),
            targets=pause_targets(info) if count else (),
            thresholds=limits,
        )

    def admin(workspace: str, authorization: str | None) -> None:
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "send the workspace's admin key as `Authorization: Bearer ra_…`")
        store = open_store()
        try:
            match = store.find_key(authorization.removeprefix("Bearer ").strip())
        finally:
            store.close()
        if match is None or match.workspace != workspace or match.role != "admin":
            raise HTTPException(403, f"this key is not an admin key of workspace {workspace!r}")

    # --- tracking -----------------------------------------------------------------------------------

    @router.get("/o", summary="Open pixel: records message_opened")
    def opened(t: str) -> Response:
        data = token("open", t)
        with deliveries() as ds:
            info = ds.sends(data["w"], [data["k"]]).get(data["k"])
            if info is not None:
                outcome(ds, data["w"], info, "opened")
        return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})

    @router.get("/c", summary="Click redirect: records message_clicked, then redirects to the signed URL")
    def clicked(t: str) -> RedirectResponse:
        data = token("click", t)
        url = str(data.get("u", ""))
        if not url.startswith(("https://", "http://")):
            raise HTTPException(400, "the link's destination is not an http(s) URL")
        with deliveries() as ds:
            info = ds.sends(data["w"], [data["k"]]).get(data["k"])
            if info is not None:
                outcome(ds, data["w"], info, "clicked", {"url": url})
        return RedirectResponse(url, status_code=302)

    # --- provider feedback --------------------------------------------------------------------------

    @router.post("/feedback/{workspace}", summary="Bounces, complaints and deliveries reported by a provider")
    async def feedback(
        workspace: str,
        request: Request,
        x_rumbo_timestamp: Annotated[str, Header()],
        x_rumbo_signature: Annotated[str, Header()],
    ) -> dict[str, Any]:
        body = await request.body()
        expected = feedback_signature(secret, x_rumbo_timestamp, body)
        if not hmac.compare_digest(expected, x_rumbo_signature):
            raise HTTPException(
                401, "X-Rumbo-Signature does not match HMAC-SHA256(secret, timestamp + '.' + body)"
            )
        try:
            age = abs(clock() - float(x_rumbo_timestamp))
        except ValueError as exc:
            raise HTTPException(400, "X-Rumbo-Timestamp must be seconds since the epoch") from exc
        if age > FEEDBACK_MAX_AGE:
            raise HTTPException(
                401, f"X-Rumbo-Timestamp is {age:.0f}s away from now (limit {FEEDBACK_MAX_AGE:.0f}s)"
            )
        try:
            items = orjson.loads(body)["events"]
            assert isinstance(items, list)
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError) as exc:
            raise HTTPException(
                422, 'the body must be {"events": [{"type": ..., "send" or "message_id": ...}]}'
            ) from exc
        return _feedback(workspace, items)

    def _feedback(workspace: str, items: list[Any]) -> dict[str, Any]:
        recorded, unknown, paused = 0, [], []
        with deliveries() as ds:
            for i, item in enumerate(items):
                kind = item.get("type") if isinstance(item, dict) else None
                if kind not in ("delivered", "bounced", "complained"):
                    raise HTTPException(422, f"events[{i}].type must be delivered, bounced or complained")
                info = (
                    ds.sends(workspace, [str(item["send"])]).get(str(item["send"]))
                    if "send" in item
                    else ds.send_by_message_id(workspace, str(item.get("message_id", "")))
                )
                if info is None:
                    unknown.append(i)
                    continue
                hard = bool(item.get("hard", True))
                # Soft bounces are recorded but do not count towards pausing: the address may work tomorrow.
                new, stopped = outcome(
                    ds,
                    workspace,
                    info,
                    kind,
                    {"hard": hard, "reason": str(item.get("reason", ""))},
                    count=kind == "complained" or (kind == "bounced" and hard),
                    message_id=None if hard or kind != "bounced" else f"delivery:{info.key}:soft_bounce",
                )
                recorded += new
                paused.extend(stopped)
        return {"recorded": recorded, "unknown": unknown, "paused": paused}

    # --- preferences --------------------------------------------------------------------------------

    def consent_event(workspace: str, info: SendInfo, scope: str, granted: bool, at: float) -> NewEvent:
        channel, _, topic = scope.partition(".")
        mid = f"consent:{info.key}:{scope}:{granted}:{int(at * 1000)}"
        body = {
            "type": "track",
            "event": "consent_changed",
            "messageId": mid,
            "timestamp": iso(at),
            "properties": {
                "channel": channel,
                "topic": topic or None,
                "granted": granted,
                "source": "preferences",
                "send": info.key,
            },
            "context": {"channel": info.channel if info.channel in ("email", "sms", "push") else "other"},
            "userId": None,
            "anonymousId": None,
            "workspace": workspace,
            "customer": info.customer,
        }
        return NewEvent(mid, info.customer, at, at, orjson.dumps(body))

    def scopes(info: SendInfo) -> list[str]:
        return [info.channel] + ([f"{info.channel}.{info.topic}"] if info.topic else [])

    @router.get("/preferences", response_class=HTMLResponse, summary="The hosted preferences page")
    def preferences_page(t: str) -> HTMLResponse:
        data = token("preferences", t)
        with deliveries() as ds:
            info = send_of(ds, data["w"], data["k"])
        boxes = "".join(
            f'<label><input type="checkbox" name="keep" value="{html.escape(s)}" checked> '
            f"{html.escape(_scope_label(s))}</label><br>"
            for s in scopes(info)
        )
        return HTMLResponse(
            "<!doctype html><html><head><meta charset=utf-8><title>Your preferences</title></head><body>"
            "<h1>What would you like to receive?</h1>"
            f'<form method="post" action="preferences?t={html.escape(t)}">{boxes}'
            '<button type="submit">Save</button></form></body></html>'
        )

    @router.post("/preferences", response_class=HTMLResponse, summary="Save the preferences page")
    async def preferences_save(t: str, request: Request) -> HTMLResponse:
        # The form is parsed here rather than with FastAPI's Form(), which would need python-multipart.
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        return await run_in_threadpool(save_preferences, t, set(form.get("keep", [])))

    def save_preferences(t: str, kept: set[str]) -> HTMLResponse:
        data = token("preferences", t)
        with deliveries() as ds:
            info = send_of(ds, data["w"], data["k"])
            at = clock()
            events = [consent_event(data["w"], info, s, s in kept, at) for s in scopes(info)]
            ds.store.append_events(data["w"], events)
            if not all(s in kept for s in scopes(info)):
                outcome(
                    ds,
                    data["w"],
                    info,
                    "unsubscribed",
                    {"scopes": sorted(set(scopes(info)) - kept)},
                    count=False,
                )
        return HTMLResponse("<!doctype html><html><body><p>Your preferences are saved.</p></body></html>")

    @router.post("/unsubscribe", summary="One-click unsubscribe (RFC 8058), the List-Unsubscribe target")
    def unsubscribe(t: str) -> dict[str, Any]:
        data = token("preferences", t)
        with deliveries() as ds:
            info = send_of(ds, data["w"], data["k"])
            scope = scopes(info)[-1]  # the message's topic when it has one, else its channel
            at = clock()
            ds.store.append_events(data["w"], [consent_event(data["w"], info, scope, False, at)])
            new, _ = outcome(ds, data["w"], info, "unsubscribed", {"scopes": [scope]}, count=False)
        return {"unsubscribed": scope, "new": new}

    @router.get("/unsubscribe", response_class=HTMLResponse, summary="Unsubscribe link opened in a browser")
    def unsubscribe_page(t: str) -> HTMLResponse:
        token("preferences", t)
        return HTMLResponse(
            "<!doctype html><html><body><h1>Unsubscribe</h1>"
            f'<form method="post" action="unsubscribe?t={html.escape(t)}"><button type="submit">Unsubscribe'
            f'</button></form><p><a href="preferences?t={html.escape(t)}">Choose what you receive</a></p>'
            "</body></html>"
        )

    # --- inbox --------------------------------------------------------------------------------------

    @router.get(
        "/inbox", summary="A customer's in-app messages (token from rumbo.delivery.tokens.inbox_token)"
    )
    def inbox(t: str, unread: bool = False) -> list[dict[str, Any]]:
        data = token("inbox", t)
        with deliveries() as ds:
            return [
                {
                    "key": m.key,
                    "template": m.template,
                    "subject": m.subject,
                    "body": m.body,
                    "created_at": m.created_at,
                    "read_at": m.read_at,
                }
                for m in ds.inbox(data["w"], data["c"], unread_only=unread)
            ]

    @router.post("/inbox/read", summary="Mark an in-app message read (records message_opened)")
    def inbox_read(t: str, key: Annotated[str, Query()]) -> dict[str, Any]:
        data = token("inbox", t)
        with deliveries() as ds:
            if not ds.mark_read(data["w"], data["c"], key, at=clock()):
                raise HTTPException(404, f"no unread message {key!r} in this customer's inbox")
            info = ds.sends(data["w"], [key]).get(key)
            if info is not None:
                outcome(ds, data["w"], info, "opened")
        return {"read": key}

    # --- offline tasks, pauses, preview (admin) -----------------------------------------------------

    @router.get("/offline/{workspace}/{list_name}", summary="An offline task list (call_centre, store, ...)")
    def offline(
        workspace: str,
        list_name: str,
        authorization: Annotated[str | None, Header()] = None,
        pending: bool = True,
    ) -> list[dict[str, Any]]:
        admin(workspace, authorization)
        with deliveries() as ds:
            return [
                {
                    "key": x.key,
                    "customer": x.customer,
                    "list": x.list,
                    "created_at": x.created_at,
                    "done_at": x.done_at,
                    **x.body,
                }
                for x in ds.offline_tasks(workspace, list_name, pending_only=pending)
            ]

    @router.post("/offline/{workspace}/done", summary="Mark an offline task done")
    def offline_done(
        workspace: str, key: Annotated[str, Query()], authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        admin(workspace, authorization)
        with deliveries() as ds:
            if not ds.complete_offline(workspace, key, at=clock()):
                raise HTTPException(404, f"no open offline task {key!r}")
        return {"done": key}

    @router.get("/pauses/{workspace}", summary="Paused channels and templates, with why")
    def pauses(workspace: str, authorization: Annotated[str | None, Header()] = None) -> list[dict[str, Any]]:
        admin(workspace, authorization)
        with deliveries() as ds:
            return [
                {"target": p.target, "reason": p.reason, "automatic": p.automatic, "paused_at": p.paused_at}
                for p in ds.pauses(workspace)
            ]

    @router.post("/pauses/{workspace}", summary="Pause a channel, or a template as template:<name>")
    def pause(
        workspace: str,
        target: Annotated[str, Body()],
        reason: Annotated[str, Body()] = "paused by hand",
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        admin(workspace, authorization)
        with deliveries() as ds:
            return {"target": target, "paused": ds.pause(workspace, target, reason=reason, at=clock())}

    @router.delete("/pauses/{workspace}/{target}", summary="Resume a paused channel or template")
    def resume(
        workspace: str, target: str, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        admin(workspace, authorization)
        with deliveries() as ds:
            if not ds.resume(workspace, target):
                raise HTTPException(404, f"{target!r} is not paused in workspace {workspace!r}")
        return {"target": target, "resumed": True}

    @router.post("/preview/{workspace}", summary="Render a template for a given profile, sending nothing")
    def preview_template(
        workspace: str,
        template: Annotated[str, Body()],
        channel: Annotated[str, Body()],
        traits: Annotated[dict[str, Any], Body()],
        event: Annotated[dict[str, Any] | None, Body()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        admin(workspace, authorization)
        if renderer is None:
            raise HTTPException(501, "this server was started without templates")
        order = SendOrder(
            workspace,
            Send("preview", "preview", "preview", 0, "preview", "preview", channel, template, clock()),
            Profile(traits=traits),
            event,
        )
        try:
            rendered = preview(renderer, template, channel, order, Links("/delivery", secret))
        except TemplateError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"template": template, "channel": channel, "locale": rendered.locale, "parts": rendered.parts}

    return router


def _scope_label(scope: str) -> str:
    channel, _, topic = scope.partition(".")
    return f"{topic} messages by {channel}" if topic else f"all messages by {channel}"
