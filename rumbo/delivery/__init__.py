"""Delivery: the outbox relay, the channels, templates, and the outcomes that come back as events.

See docs/delivery.md. The pieces other layers use:
- `Relay(open_store, settings, workspaces)` delivers the outbox (`run_once`, `run`);
- `delivery_router(open_store, secret)` is the FastAPI router for tracking, feedback, preferences, inbox;
- `DeliveryStore(store).paused(workspace)` feeds the engine Policy's `paused`;
- `Renderer` and `preview` render templates without sending.
"""

from rumbo.delivery.message import Message, Profile, SendOrder, decode_order, encode_order
from rumbo.delivery.relay import Relay, RoundStats
from rumbo.delivery.settings import DeliverySettings, load_settings
from rumbo.delivery.templates import DirectoryTemplates, MemoryTemplates, Renderer, preview

__all__ = [
    "DeliverySettings",
    "DirectoryTemplates",
    "MemoryTemplates",
    "Message",
    "Profile",
    "Relay",
    "Renderer",
    "RoundStats",
    "SendOrder",
    "decode_order",
    "encode_order",
    "load_settings",
    "preview",
]
