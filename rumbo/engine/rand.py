"""Deterministic randomness: numbers from hashes of stable ids, so a replay gives the same answers."""

from __future__ import annotations

import hashlib

_SCALE = float(1 << 64)


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) that depends only on `parts`."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def key(*parts: object, size: int = 16) -> str:
    """A short hex id that depends only on `parts` (run ids, idempotency keys, emitted message ids)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).hexdigest()


def seed(*parts: object) -> int:
    return int(key(*parts, size=8), 16)
