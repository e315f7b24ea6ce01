"""The management API: journeys, segments, offers, templates, tracking plans, settings, keys and the audit
log of a workspace, over HTTP (docs/api.md). `management_router(open_store)` is mounted by `rumbo serve`;
`admin_workspace(open_store)` is the dependency that resolves an admin key to its workspace."""

from __future__ import annotations

from rumbo.manage.auth import Caller, admin_workspace
from rumbo.manage.router import management_router

__all__ = ["Caller", "admin_workspace", "management_router"]
