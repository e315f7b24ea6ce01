"""Keys checked against the store, remembered briefly so that a busy ingestion API does not hash and
query on every request; a revoked key stops working within `ttl` seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rumbo.store.base import KeyMatch
from rumbo.store.sql import SqlStore


class KeyCache:
    def __init__(self, open_store: Callable[[], SqlStore], ttl: float = 5.0) -> None:
        self._open_store, self._ttl = open_store, ttl
        self._known: dict[str, tuple[float, KeyMatch | None]] = {}
        self._lock = threading.Lock()

    def find(self, key: str) -> KeyMatch | None:
        now = time.monotonic()
        with self._lock:
            hit = self._known.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        match = self._open_store().find_key(key)
        with self._lock:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[key] = (now, match)
        return match
