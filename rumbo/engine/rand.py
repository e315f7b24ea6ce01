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
    return _blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).hexdigest()


def key4(a: object, b: object, c: object, d: object, size: int = 16) -> str:
    """`key` of exactly four parts, without building a tuple and a map: run ids are made on a hot path."""
    return _blake2b(f"{a}\x1f{b}\x1f{c}\x1f{d}".encode(), digest_size=size).hexdigest()


_blake2b = hashlib.blake2b


def seed(*parts: object) -> int:
    return int(key(*parts, size=8), 16)
