"""Token buckets for per-channel and per-provider rate limits, and the retry schedule.

A bucket holds up to `burst` tokens and gains `rate` per second; a send takes one token from its channel's
bucket and one from its provider's, waiting (in its own worker thread) until both have one. Retries wait
a full-jitter exponential backoff: uniform(0, min(cap, base · 2^attempt)), which spreads a burst of
failures over time instead of retrying them all in step.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up. Thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"a rate limit must be positive, got {rate}")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token, possibly going into debt; return how long the caller must wait for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> float:
        """Wait until a token is available and take it; return the time waited."""
        wait = self._reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_attempts` in all (the first included); then the send is dead-lettered (status failed)."""

    max_attempts: int = 6
    base: float = 30.0
    cap: float = 3600.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 for the first)."""
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** (attempt - 1)))

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
