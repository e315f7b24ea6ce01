"""Channel adapters: each a small class behind the `Channel` protocol (`base.py`)."""

from rumbo.delivery.channels.base import Channel

__all__ = ["Channel"]
