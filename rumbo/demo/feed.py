"""The population, hour by hour: Segment batches for the HTTP API, and the runtime's own inputs.

Customers' events go through the real ingestion API, as an SDK sends them: batches of 100 to `/v1/batch`,
the write key over HTTP Basic, several requests in flight on kept-alive connections. Segment memberships
and the win-back schedule's Monday ticks (the population's `rumbo:segment` and `rumbo:schedule` lines) are
what the runtime makes itself, not what a tracker sends: the demo appends them to the event log at their
time, as a segment evaluator and scheduler in the worker would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from rumbo.demo.errors import DemoError
from rumbo.identity.graph import customer_id
from rumbo.identity.identifiers import USER_ID, identifier
from rumbo.ingest.timestamps import iso
from rumbo.replay.virtual import event_time
from rumbo.store.base import NewEvent

BATCH = 100  # messages per request, as Segment's SDKs send them
HOUR = 3600.0


@dataclass(slots=True)
class Slice:
    """One simulated hour: the batches to post and the runtime inputs to append, both in time order."""

    end: float
    batches: list[bytes] = field(default_factory=list)
    runtime: list[NewEvent] = field(default_factory=list)


def hourly(messages: Iterable[dict[str, Any]], start: float, end: float) -> Iterator[Slice]:
    """The messages cut into hours from `start` to `end` (earlier ones go in the first, none may be later)."""
    timed = sorted((event_time(m), i, m) for i, m in enumerate(messages))
    position, hour_end = 0, start + HOUR
    while hour_end <= end + 1e-6:
        tracked: list[dict[str, Any]] = []
        piece = Slice(hour_end)
        while position < len(timed) and timed[position][0] < hour_end:
            at, _, message = timed[position]
            position += 1
            if str(message["type"]).startswith("rumbo:"):
                piece.runtime.append(_runtime_input(message, at))
            else:
                tracked.append({**message, "timestamp": iso(at)})
        piece.batches = [
            orjson.dumps({"batch": tracked[i : i + BATCH]}) for i in range(0, len(tracked), BATCH)
        ]
        yield piece
        hour_end += HOUR
    if position < len(timed):
        raise DemoError(f"{len(timed) - position} messages fall after the demo's last hour")


def _runtime_input(message: dict[str, Any], at: float) -> NewEvent:
    """A `rumbo:*` line as the worker reads it from the log, on the customer its userId resolves to."""
    customer = customer_id(identifier(USER_ID, str(message["userId"])))
    body = orjson.dumps({**message, "timestamp": iso(at)})
    return NewEvent(str(message["messageId"]), customer, at, at, body)


class Feeder:
    """Posts batches to `/v1/batch` over a few kept-alive connections; every answer is checked."""

    def __init__(self, url: str, write_key: str, connections: int = 4) -> None:
        self.url, self.auth = url, (write_key, "")
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(connections, thread_name_prefix="rumbo-demo-feed")
        self.accepted = 0

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(base_url=self.url, auth=self.auth, timeout=120)
            with self._lock:
                self._clients.append(client)
        return client

    def _post(self, body: bytes) -> int:
        answer = self._client().post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
        data = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        if answer.status_code != 200 or data.get("rejected"):
            raise DemoError(
                f"the ingestion API answered {answer.status_code} to a batch of the demo's events: "
                f"{answer.text[:500]}"
            )
        return int(data.get("accepted", 0))

    def post(self, batches: Sequence[bytes]) -> int:
        """Post every batch (several at a time) and return how many messages were accepted; all are durable
        when this returns."""
        accepted = sum(self._pool.map(self._post, batches))
        self.accepted += accepted
        return accepted

    def close(self) -> None:
        self._pool.shutdown()
        for client in self._clients:
            client.close()
