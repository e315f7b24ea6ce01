"""Which of rumbo's channels an event came through, read from what the sender put in the message.

The rule, first match wins (each step is a table below, so it reads as data):

1. **Said outright.** `context.channel`, else the message's own `channel`, when it names one of rumbo's
   channels or a common spelling of one (`call-center` → call_centre, `pos` → store, `mobile` → app,
   `browser` → web, ...). RudderStack's `server` names no channel and is skipped.
2. **The campaign's medium.** `context.campaign.medium` (the UTM medium) in Google Analytics' default
   channel grouping: email → email, sms → sms, push → push, cpc/ppc/paid/display/... → paid,
   social/social-network/... → social. A visit that an ad or an email brought is credited to that channel,
   which is what attribution needs.
3. **The surface.** A `screen` call, or a context with `app`, or a mobile SDK library → app; a `page`
   call, or a context with `page` or `userAgent`, or the browser library → web.
4. Otherwise **other**.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from rumbo.records import CHANNELS, Channel

STATED: Final[dict[str, Channel]] = {
    **{name: name for name in CHANNELS},
    "browser": "web",
    "website": "web",
    "mobile": "app",
    "ios": "app",
    "android": "app",
    "in_app": "app",
    "text": "sms",
    "mms": "sms",
    "whatsapp": "chat",
    "live_chat": "chat",
    "livechat": "chat",
    "messenger": "chat",
    "pos": "store",
    "in_store": "store",
    "instore": "store",
    "retail": "store",
    "offline": "store",
    "call_center": "call_centre",
    "callcenter": "call_centre",
    "callcentre": "call_centre",
    "phone": "call_centre",
    "contact_center": "call_centre",
    "contact_centre": "call_centre",
    "ads": "paid",
    "advertising": "paid",
}

MEDIUMS: Final[dict[str, Channel]] = {
    "email": "email",
    "e_mail": "email",
    "newsletter": "email",
    "sms": "sms",
    "text": "sms",
    "push": "push",
    "notification": "push",
    "cpc": "paid",
    "ppc": "paid",
    "cpm": "paid",
    "cpv": "paid",
    "cpa": "paid",
    "paid": "paid",
    "paidsearch": "paid",
    "paid_search": "paid",
    "paid_social": "paid",
    "display": "paid",
    "banner": "paid",
    "retargeting": "paid",
    "social": "social",
    "social_network": "social",
    "social_media": "social",
    "sm": "social",
    "organic_social": "social",
    "chat": "chat",
}

# Library names of Segment's and RudderStack's mobile and browser SDKs (`context.library.name`).
APP_LIBRARIES: Final = (
    "analytics-ios",
    "analytics-android",
    "analytics-swift",
    "analytics-kotlin",
    "analytics-react-native",
    "analytics-flutter",
    "rudder-ios",
    "rudder-android",
    "com.rudderstack.android",
    "rudder-sdk-react-native",
    "rudder-sdk-flutter",
)
WEB_LIBRARIES: Final = ("analytics.js", "analytics-next", "rudderlabs-js-sdk", "rudder-analytics.js")


def _key(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip().lower().replace("-", "_").replace(" ", "_") or None


def _stated(message: Mapping[str, Any], context: Mapping[str, Any]) -> Channel | None:
    for value in (context.get("channel"), message.get("channel")):
        key = _key(value)
        if key is not None and key in STATED:
            return STATED[key]
    return None


def _campaign(context: Mapping[str, Any]) -> Channel | None:
    campaign = context.get("campaign")
    if not isinstance(campaign, Mapping):
        return None
    return MEDIUMS.get(_key(campaign.get("medium")) or "")


def _surface(message: Mapping[str, Any], context: Mapping[str, Any]) -> Channel | None:
    library = context.get("library")
    name = library.get("name") if isinstance(library, Mapping) else None
    name = name.lower() if isinstance(name, str) else ""
    if message.get("type") == "screen" or isinstance(context.get("app"), Mapping) or name in APP_LIBRARIES:
        return "app"
    if message.get("type") == "page" or "page" in context or "userAgent" in context or name in WEB_LIBRARIES:
        return "web"
    return None


def channel_of(message: Mapping[str, Any]) -> Channel:
    """The normalised channel of a Segment message (see the module docstring for the rule)."""
    raw_context = message.get("context")
    context: Mapping[str, Any] = raw_context if isinstance(raw_context, Mapping) else {}
    return _stated(message, context) or _campaign(context) or _surface(message, context) or "other"
