"""The limits ingestion enforces, with Segment's published values as defaults."""

from __future__ import annotations

from dataclasses import dataclass

from rumbo.errors import RumboError

# Segment's HTTP API: "32KB per call" and "500KB per batch request"; its SDKs use 32 << 10 for a message.
SEGMENT_MAX_MESSAGE_BYTES = 32 * 1024
SEGMENT_MAX_BATCH_BYTES = 500 * 1024


class SettingInvalid(RumboError):
    """An ingest setting has a value that cannot work."""


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Size limits in bytes of JSON as sent (after gzip is undone).

    `max_message_bytes` applies to each message, so to the whole body of a single call (`/v1/track`, ...);
    `max_batch_bytes` to the whole body of `/v1/batch`, compressed or not.
    """

    max_message_bytes: int = SEGMENT_MAX_MESSAGE_BYTES
    max_batch_bytes: int = SEGMENT_MAX_BATCH_BYTES

    def __post_init__(self) -> None:
        if self.max_message_bytes <= 0 or self.max_batch_bytes <= 0:
            raise SettingInvalid(
                f"ingest size limits must be positive numbers of bytes, got max_message_bytes="
                f"{self.max_message_bytes} and max_batch_bytes={self.max_batch_bytes}"
            )
