"""Token buckets, the retry schedule, and signed tokens, on virtual time where time matters."""

from __future__ import annotations

import random

import pytest

from rumbo.delivery.limits import RetryPolicy, TokenBucket
from rumbo.delivery.tokens import BadToken, sign, verify


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_bucket_allows_its_burst_then_paces_sends_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(8)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1] * 5)
    assert clock.now == pytest.approx(0.5)  # 8 sends, 3 of them from the burst: 5 at 10 per second
    clock.now += 10.0  # idle time refills up to the burst, not beyond
    assert [bucket.acquire() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.1])


def test_a_bucket_refuses_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(rate=0)


def test_retries_wait_full_jitter_exponential_backoff_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=5, base=10.0, cap=60.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 10.0), (2, 20.0), (3, 40.0), (4, 60.0), (9, 60.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert min(delays) >= 0.0 and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not bunched
    assert not policy.gives_up(4) and policy.gives_up(5)


def test_tokens_are_bound_to_their_purpose_and_secret() -> None:
    token = sign(b"k", "open", {"w": "acme", "k": "key"})
    assert verify(b"k", "open", token) == {"w": "acme", "k": "key"}
    for secret, purpose, text in [
        (b"other", "open", token),
        (b"k", "preferences", token),
        (b"k", "open", "x.y"),
    ]:
        with pytest.raises(BadToken):
            verify(secret, purpose, text)  # type: ignore[arg-type]
