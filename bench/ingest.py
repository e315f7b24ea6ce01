"""Ingestion throughput: SDK-shaped batches of 100 events read, checked and normalised, against a floor.

The floor is what any endpoint must do with the same bodies: gunzip (when compressed) and parse the JSON,
then discard it. Measured in the same run over the same bodies, plain and gzip-compressed, without a
tracking plan and with a plan in warn mode over every event name. Prints events per second and the ratio
of rumbo's time to the floor's (lower is better). The runtime's target end to end is 20,000 events/s, so
this part must leave most of the budget to the rest. Run: .venv/bin/python bench/ingest.py
"""

from __future__ import annotations

import gzip
import random
import time
import zlib
from collections.abc import Callable
from typing import Any

import orjson

from rumbo.ingest import TrackingPlan, ingest_request

BATCHES = 200
PER_BATCH = 100
KEY = "bench-key"
NAMES = ("Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Order Completed")
RECEIVED = 1_795_435_206.0


def message(rng: random.Random, n: int) -> dict[str, Any]:
    """A track call as segment-analytics-python's `_enqueue` leaves it, with a browser-like context."""
    return {
        "integrations": {},
        "anonymousId": f"anon-{rng.randrange(10**9)}",
        "properties": {"product_id": f"p{rng.randrange(5000)}", "price": round(rng.uniform(1, 300), 2),
                       "quantity": rng.randrange(1, 4), "currency": "EUR"},
        "timestamp": f"2026-11-23T10:{n % 60:02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}+00:00",
        "context": {"library": {"name": "analytics-python", "version": "2.3.3"}, "ip": "10.1.2.3",
                    "campaign": {"medium": rng.choice(["email", "cpc", "social", "referral"])}},
        "userId": f"u{rng.randrange(100_000)}",
        "type": "track",
        "event": rng.choice(NAMES),
        "messageId": f"{n:032x}",
    }  # fmt: skip


def bodies() -> list[bytes]:
    rng = random.Random(7)
    made = []
    for b in range(BATCHES):
        batch = [message(rng, b * PER_BATCH + i) for i in range(PER_BATCH)]
        made.append(
            orjson.dumps({"batch": batch, "sentAt": "2026-11-23T11:00:00.000000+00:00", "writeKey": KEY})
        )
    return made


def floor(body: bytes, headers: dict[str, str]) -> None:
    text = zlib.decompress(body, 16 + zlib.MAX_WBITS) if headers.get("Content-Encoding") else body
    orjson.loads(text)


def best_of(runs: int, work: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    plain = bodies()
    packed = [gzip.compress(body) for body in plain]
    schema = {
        "properties": {
            "properties": {
                "required": ["product_id", "price"],
                "properties": {"price": {"type": "number", "minimum": 0}},
            }
        }
    }
    plan = TrackingPlan.from_document({"events": {n: {"mode": "warn", "schema": schema} for n in NAMES}})
    events = BATCHES * PER_BATCH
    size = sum(map(len, plain)) / BATCHES
    print(f"{BATCHES} batches of {PER_BATCH} events, {size / 1024:.1f} KiB each as JSON, "
          f"{sum(map(len, packed)) / BATCHES / 1024:.1f} KiB gzipped")  # fmt: skip
    for label, chosen, headers in (
        ("plain", plain, {"Authorization": "Basic YmVuY2gta2V5Og=="}),
        ("gzip", packed, {"Authorization": "Basic YmVuY2gta2V5Og==", "Content-Encoding": "gzip"}),
    ):

        def bare(bodies: list[bytes] = chosen, sent: dict[str, str] = headers) -> None:
            for body in bodies:
                floor(body, sent)

        base = best_of(3, bare)
        for with_plan in (None, plan):

            def work(
                bodies: list[bytes] = chosen,
                sent: dict[str, str] = headers,
                p: TrackingPlan | None = with_plan,
            ) -> None:
                for body in bodies:
                    result = ingest_request(
                        "batch", body, sent, workspace_of={KEY: "bench"}, received_at=RECEIVED, plan=p
                    )
                    assert len(result.accepted) == PER_BATCH

            took = best_of(3, work)
            name = f"{label:5} {'with a warn plan' if with_plan else 'no plan':16}"
            print(f"{name} rumbo {events / took:>9,.0f} events/s   floor {events / base:>9,.0f} events/s   "
                  f"ratio {took / base:5.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
