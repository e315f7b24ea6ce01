"""Ingestion: Segment-compatible payloads read, checked against the spec and the tracking plan, normalised.

Pure logic, no server: `ingest_request(endpoint, body, headers, ...)` takes what an HTTP handler received
and returns the accepted events (as rumbo's event records), the rejected messages with every problem by
JSON path, and the events the tracking plan blocked (kept in a dead-letter store for replay).
See docs/ingest.md.
"""

from __future__ import annotations

from rumbo.ingest.deadletters import DeadLetterStore, MemoryDeadLetters, Replayed, replay
from rumbo.ingest.errors import (
    IngestError,
    Issue,
    PayloadInvalid,
    PayloadTooLarge,
    TrackingPlanInvalid,
    Unauthorized,
    UnsupportedEncoding,
)
from rumbo.ingest.payload import ENDPOINTS, Request, ingest_payload, ingest_request, read_request
from rumbo.ingest.plan import Rule, TrackingPlan
from rumbo.ingest.result import Accepted, DeadLetter, IngestResult, Rejected
from rumbo.ingest.settings import IngestSettings

__all__ = [
    "ENDPOINTS",
    "Accepted",
    "DeadLetter",
    "DeadLetterStore",
    "IngestError",
    "IngestResult",
    "IngestSettings",
    "Issue",
    "MemoryDeadLetters",
    "PayloadInvalid",
    "PayloadTooLarge",
    "Rejected",
    "Replayed",
    "Request",
    "Rule",
    "TrackingPlan",
    "TrackingPlanInvalid",
    "Unauthorized",
    "UnsupportedEncoding",
    "ingest_payload",
    "ingest_request",
    "read_request",
    "replay",
]
