"""Who is calling: an admin key resolved to its workspace, or the instance token that creates workspaces.

Keys come as `Authorization: Bearer <key>`, or as HTTP Basic with the key as the user name (what Segment's
tooling sends). Write keys only ingest, so they get a 403 here, with a message saying which key to use.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPBasic, HTTPBearer
from fastapi.security.http import HTTPAuthorizationCredentials, HTTPBasicCredentials
from starlette.requests import HTTPConnection

from rumbo.manage.errors import Forbidden, Unauthenticated, from_store_error
from rumbo.store.base import Role
from rumbo.store.catalog import Actor, key_id
from rumbo.store.errors import StoreError
from rumbo.store.sql import SqlStore

ADMIN_TOKEN_SETTING = "RUMBO_ADMIN_TOKEN"


class _DocumentedBasic(HTTPBasic):
    """HTTP Basic as the OpenAPI document states it; the header itself is read by `request_key`, which
    answers a malformed one in rumbo's error format rather than FastAPI's."""

    async def __call__(self, request: HTTPConnection) -> HTTPBasicCredentials | None:  # type: ignore[override]
        return None


_BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer <admin key>`")
_BASIC = _DocumentedBasic(auto_error=False, description="HTTP Basic with the admin key as the user name")


@dataclass(frozen=True, slots=True)
class Caller:
    """The workspace an admin key belongs to; `key_id` names the key in the audit log."""

    workspace: str
    role: Role
    key_id: str

    @property
    def actor(self) -> Actor:
        return Actor("admin", self.key_id)


def request_key(authorization: str | None) -> str | None:
    """The key in an Authorization header (Bearer, or Basic with the key as user), None when absent."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user, _, _password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise Unauthenticated(
                "the Basic credentials are not base64 of `key:`; send `Authorization: Bearer <admin key>`"
            ) from exc
        return user or None
    raise Unauthenticated(
        f"unsupported Authorization scheme {scheme!r}: send `Authorization: Bearer <admin key>` "
        "or HTTP Basic with the key as the user name"
    )


def admin_workspace(open_store: Callable[[], SqlStore]) -> Callable[..., Caller]:
    """A FastAPI dependency resolving the request's admin key to its workspace:
    `caller: Caller = Depends(admin_workspace(open_store))`. 401 without a known key, 403 for a write key."""

    def dependency(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
        _basic: Annotated[HTTPBasicCredentials | None, Security(_BASIC)] = None,
    ) -> Caller:
        key = request_key(request.headers.get("authorization"))
        if key is None:
            raise Unauthenticated(
                "no admin key: send `Authorization: Bearer <admin key>` (`rumbo workspace create` prints it)"
            )
        try:
            match = open_store().find_key(key)
        except StoreError as exc:
            raise from_store_error(exc) from exc
        if match is None:
            raise Unauthenticated(
                "no workspace has this key; it may have been rotated — use the workspace's current admin key"
            )
        if match.role != "admin":
            raise Forbidden(
                f"this is workspace {match.workspace!r}'s write key, which can only send events; "
                "the management API needs its admin key (ra_…)"
            )
        return Caller(match.workspace, match.role, key_id(key))

    return dependency


def instance_token(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> Actor:
    """A FastAPI dependency for instance-level routes (creating workspaces): the RUMBO_ADMIN_TOKEN bearer."""
    expected = os.environ.get(ADMIN_TOKEN_SETTING)
    if not expected:
        raise Forbidden(
            f"creating workspaces over HTTP is turned off because {ADMIN_TOKEN_SETTING} is not set: run "
            f"`rumbo workspace create NAME` on the server, or set {ADMIN_TOKEN_SETTING} and send it as "
            "`Authorization: Bearer <token>`"
        )
    given = request_key(request.headers.get("authorization"))
    if given is None:
        raise Unauthenticated(f"send the instance token: `Authorization: Bearer <{ADMIN_TOKEN_SETTING}>`")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(f"this is not the instance token ({ADMIN_TOKEN_SETTING})")
    return Actor("instance", None)
