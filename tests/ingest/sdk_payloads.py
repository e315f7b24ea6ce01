"""Request bodies exactly as the official Python SDKs build them, for the ingestion tests.

Shapes copied from the SDKs' source:
- segment-analytics-python, `segment/analytics/client.py` (`track`, `identify`, `page`, `screen`, `group`,
  `alias`, then `_enqueue`: `timestamp` as `isoformat(timespec='milliseconds')`, `messageId` a uuid4
  string, `context.library = {name: 'analytics-python', version}`, ids stringified, `None` values kept —
  its `clean()` does not drop them) and `segment/analytics/request.py` (`post`: the body is
  `{"batch": [...], "sentAt": now.isoformat(), "writeKey": key}`, Basic auth `base64("<key>:")`,
  gzip only when asked).
- rudder-sdk-python, `rudderstack/analytics/client.py` (the same calls, plus `msg['channel'] = 'server'`,
  `timestamp.isoformat()` with microseconds) and `rudderstack/analytics/request.py` (`post`: `sentAt`
  always set, `HTTPBasicAuth(write_key, '')`, gzip compressed).
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

import orjson

WRITE_KEY = "9c2bLxoTJt3vNhRSmkhvvZJpCZ1l8gc4"
LIBRARY = {"name": "analytics-python", "version": "2.3.3"}


def segment_track() -> dict[str, Any]:
    """`analytics.track('f4ca124298', 'Signed Up', {'plan': 'Enterprise'})` after `_enqueue`."""
    return {
        "integrations": {},
        "anonymousId": None,
        "properties": {"plan": "Enterprise"},
        "timestamp": "2026-11-23T10:00:00.250+00:00",
        "context": {"library": dict(LIBRARY)},
        "userId": "f4ca124298",
        "type": "track",
        "event": "Signed Up",
        "messageId": "8f4a8b8e-4b1f-4d8e-9a8e-0c6f7a3b2d11",
    }


def segment_identify() -> dict[str, Any]:
    """`analytics.identify('f4ca124298', {'email': 'ana@example.com', 'plan': 'Enterprise'})`."""
    return {
        "integrations": {},
        "anonymousId": None,
        "timestamp": "2026-11-23T09:59:58.000+00:00",
        "context": {"library": dict(LIBRARY)},
        "type": "identify",
        "userId": "f4ca124298",
        "traits": {"email": "ana@example.com", "plan": "Enterprise"},
        "messageId": "0b6a7c1e-3c55-4f0b-8d0e-2a8b6c4d9e01",
    }


def segment_page() -> dict[str, Any]:
    """`analytics.page('f4ca124298', 'Docs', 'Python', {'url': 'https://segment.com/libraries/python/'})`."""
    return {
        "integrations": {},
        "anonymousId": None,
        "properties": {"url": "https://segment.com/libraries/python/"},
        "timestamp": "2026-11-23T10:00:01.000+00:00",
        "category": "Docs",
        "context": {"library": dict(LIBRARY)},
        "userId": "f4ca124298",
        "type": "page",
        "name": "Python",
        "messageId": "6a1f3c9e-8e4d-4a6f-b1d2-9c0e5f7a3b22",
    }


def segment_screen() -> dict[str, Any]:
    """`analytics.screen(anonymous_id='a1b2', name='Home')`: no category, so `category` is None."""
    return {
        "integrations": {},
        "anonymousId": "a1b2",
        "properties": {},
        "timestamp": "2026-11-23T10:00:02.000+00:00",
        "category": None,
        "context": {"library": dict(LIBRARY)},
        "userId": None,
        "type": "screen",
        "name": "Home",
        "messageId": "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c55",
    }


def segment_group() -> dict[str, Any]:
    """`analytics.group('f4ca124298', 42, {'name': 'Initech'})`: a numeric group id, sent as is."""
    return {
        "integrations": {},
        "anonymousId": None,
        "timestamp": "2026-11-23T10:00:03.000+00:00",
        "groupId": 42,
        "context": {"library": dict(LIBRARY)},
        "userId": "f4ca124298",
        "traits": {"name": "Initech"},
        "type": "group",
        "messageId": "2e3d4c5b-6a7f-4b8c-9d0e-1f2a3b4c5d66",
    }


def segment_alias() -> dict[str, Any]:
    """`analytics.alias('anon-7', 'f4ca124298')`."""
    return {
        "integrations": {},
        "previousId": "anon-7",
        "timestamp": "2026-11-23T10:00:04.000+00:00",
        "context": {"library": dict(LIBRARY)},
        "userId": "f4ca124298",
        "type": "alias",
        "messageId": "3f4e5d6c-7b8a-4c9d-8e0f-2a3b4c5d6e77",
    }


def segment_batch(*messages: Any, sent_at: str = "2026-11-23T10:00:05.000000+00:00") -> dict[str, Any]:
    """The body `post(write_key, batch=[...])` sends."""
    return {"batch": list(messages), "sentAt": sent_at, "writeKey": WRITE_KEY}


def rudder_track() -> dict[str, Any]:
    """rudder-sdk-python's `track`: Segment's shape plus `channel: 'server'`, microsecond timestamps."""
    message = segment_track()
    message["timestamp"] = "2026-11-23T10:00:00.250000+00:00"
    message["channel"] = "server"
    message["messageId"] = "c0ffee00-1234-4abc-8def-000000000001"
    return message


def rudder_batch(*messages: dict[str, Any]) -> dict[str, Any]:
    """rudder's `post`: `sentAt` always, no `writeKey` in the body (auth is `HTTPBasicAuth(key, '')`)."""
    return {"batch": list(messages), "sentAt": "2026-11-23T10:00:05.000000+00:00"}


def basic_auth(key: str = WRITE_KEY) -> str:
    """The Authorization header both SDKs send: Basic, the key as user name, an empty password."""
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def gzipped(payload: dict[str, Any]) -> bytes:
    """The body as the SDKs gzip it (`GzipFile(mode='w')` over the UTF-8 JSON)."""
    return gzip.compress(orjson.dumps(payload))
