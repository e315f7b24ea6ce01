"""Workspace keys: random, shown once, stored only as a hash.

A key carries 192 random bits, so one SHA-256 is enough to make a leaked table useless; a slow password
hash is for secrets people choose, which can be guessed.
"""

from __future__ import annotations

import hashlib
import secrets

from rumbo.store.base import Role

_PREFIX: dict[Role, str] = {"write": "rw_", "admin": "ra_"}


def new_key(role: Role) -> str:
    """A new key; its prefix says its role so a leaked key in a log can be recognised."""
    return _PREFIX[role] + secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
