"""Deterministic randomness: numbers from hashes of stable ids, so a replay gives the same answers."""

from __future__ import annotations

import binascii
import hashlib

_SCALE = float(1 << 64)


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) that depends only on `parts`."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def key(*parts: object, size: int = 16) -> str:
    """A short hex id that depends only on `parts` (run ids, idempotency keys, emitted message ids)."""
    return _blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).hexdigest()


def run_key(journey: object, customer: object, input_id: object, node: object) -> str:
    """A run's id: "r" and 72 bits of hash in 12 URL-safe base64 characters. Analyses join a workspace's
    records on it, so it must not collide across many millions of runs (48 bits would, at 10 million runs,
    about one time in six); base64 keeps it as short, and as small in memory, as 48 bits in hex."""
    digest = _blake2b(f"{journey}\x1f{customer}\x1f{input_id}\x1f{node}".encode(), digest_size=9).digest()
    return "r" + _b64(digest, newline=False).translate(_URL_SAFE).decode()


_blake2b = hashlib.blake2b
_b64 = binascii.b2a_base64
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def seed(*parts: object) -> int:
    return int(key(*parts, size=8), 16)
