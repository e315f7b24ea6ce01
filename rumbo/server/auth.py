"""Who is calling: the workspace key in a request, checked against the store (through the app's KeyCache).

Write keys can only ingest; every other route takes the workspace's admin key, as
`Authorization: Bearer <key>` or HTTP Basic with the key as user name (as Segment's tooling sends keys).
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from rumbo.server.keys import KeyCache


def key_of(request: Request) -> str | None:
    """The key a request carries, or None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            user = base64.b64decode(value).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return None
        return user or None
    return None


def admin_workspace(request: Request) -> str:
    """The workspace whose admin key the request carries; 401 without a known key, 403 with a write key."""
    keys: KeyCache = request.app.state.keys
    key = key_of(request)
    if key is None:
        raise HTTPException(401, "send the workspace's admin key: Authorization: Bearer <admin key>")
    match = keys.find(key)
    if match is None:
        raise HTTPException(401, "the key is not known; use an admin key of the workspace")
    if match.role != "admin":
        raise HTTPException(403, "a write key can only ingest events; use the workspace's admin key")
    return match.workspace


AdminWorkspace = Annotated[str, Depends(admin_workspace)]
