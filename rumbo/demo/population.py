"""A synthetic customer base with 90 days of multi-channel behaviour, reproducible from a seed.

Segments behave differently (loyal buyers, regulars, bargain hunters, browsers, newcomers); activity has a
weekly rhythm, local evening peaks and a mid-period sale; purchases pull complementary purchases after
them (a camera brings lenses and memory cards); stores and the call centre add offline events. Lapsing and
VIP memberships and the Monday win-back schedule are emitted as rumbo's own replay lines.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DAY = 86400.0
ZONES = ("Europe/Madrid", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo")
ZONE_OFFSETS = {
    "Europe/Madrid": 1,
    "Europe/London": 0,
    "America/New_York": -5,
    "America/Los_Angeles": -8,
    "Asia/Tokyo": 9,
}
FIRST_NAMES = ("Ana", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hiro", "Inés", "Jon", "Kemi", "Luca")
CATALOGUE = {  # category -> (price range, complementary categories)
    "cameras": ((250, 900), ("lenses", "memory_cards")),
    "phones": ((200, 800), ("cases", "memory_cards")),
    "lenses": ((120, 600), ()),
    "memory_cards": ((15, 60), ()),
    "cases": ((15, 45), ()),
    "books": ((10, 40), ("books",)),
    "accessories": ((10, 80), ()),
}


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    share: float
    orders_per_month: float
    visits_per_week: float
    cart_abandon: float  # chance a visit leaves a cart behind
    app_user: float
    store_share: float  # share of purchases made in a store
    lapse: float  # chance the customer stops buying half-way


SEGMENTS = (
    Segment("loyal", 0.15, 2.5, 4.0, 0.10, 0.8, 0.25, 0.02),
    Segment("regular", 0.35, 0.9, 1.5, 0.15, 0.5, 0.20, 0.25),
    Segment("bargain", 0.20, 0.6, 2.5, 0.45, 0.4, 0.05, 0.20),
    Segment("browser", 0.20, 0.15, 2.0, 0.20, 0.3, 0.05, 0.10),
    Segment("new", 0.10, 0.8, 2.0, 0.20, 0.5, 0.10, 0.15),
)


def _season(day: float) -> float:
    """Weekly rhythm (weekends busier) and a four-day sale from day 60."""
    weekday = int(day) % 7  # day 0 is a Monday
    weekly = 1.3 if weekday >= 5 else 1.0
    sale = 2.5 if 60 <= day < 64 else 1.0
    return weekly * sale


class Population:
    """Yields Segment-shaped messages, and rumbo replay lines, in no particular order, all before the end of
    the period (an order or a survey the model would place after it is left out)."""

    def __init__(self, customers: int, days: int, start: float, seed: int = 7) -> None:
        self.customers = customers
        self.days = days
        self.start = start
        self.seed = seed
        self.count = 0

    def messages(self) -> Iterator[dict[str, Any]]:
        rng = random.Random(self.seed)
        end = self.start + self.days * DAY
        for index in range(self.customers):
            for message in self._customer(rng, index):
                if message["timestamp"] < end:
                    yield message

    def _id(self, user: str) -> str:
        self.count += 1
        return f"demo-{self.seed}-{self.count}"

    def _msg(self, user: str, at: float, name: str, channel: str, **properties: Any) -> dict[str, Any]:
        return {
            "type": "track",
            "messageId": self._id(user),
            "userId": user,
            "event": name,
            "timestamp": at,
            "context": {"channel": channel},
            "properties": properties,
        }

    def _local_time(self, rng: random.Random, day: float, zone: str) -> float:
        """A moment on `day`, most likely in the customer's local evening."""
        hour = min(23.9, max(6.0, rng.gauss(19.0, 3.0)))
        return self.start + day * DAY + (hour - ZONE_OFFSETS[zone]) * 3600 + rng.random() * 60

    def _customer(self, rng: random.Random, index: int) -> Iterator[dict[str, Any]]:
        roll, segment = rng.random(), SEGMENTS[-1]
        for candidate in SEGMENTS:
            if roll < candidate.share:
                segment = candidate
                break
            roll -= candidate.share
        user = f"cust-{index:06d}"
        zone = rng.choice(ZONES)
        budget = rng.lognormvariate(0.2 if segment.name == "loyal" else 0.0, 0.35)  # spend per order varies
        app = rng.random() < segment.app_user
        first_day = rng.uniform(0, self.days * 0.8) if segment.name == "new" else 0.0
        subscriber = rng.random() < 0.2
        traits: dict[str, Any] = {
            "first_name": rng.choice(FIRST_NAMES),
            "email": f"{user}@example.com",
            "timezone": zone,
            "segment": segment.name,
            "loyalty_tier": "gold" if segment.name == "loyal" and rng.random() < 0.5 else "silver",
            "consent": {
                "email": rng.random() < 0.85,
                "sms": rng.random() < 0.4,
                "push": app and rng.random() < 0.7,
            },
        }
        if rng.random() < 0.7:
            traits["phone"] = f"+34{600000000 + index}"
        if app:
            traits["push_token"] = f"tok-{index}"
        if rng.random() < 0.3:
            traits["preferred_channel"] = rng.choice(("email", "sms", "push"))
        if subscriber:
            renewal_day = first_day + rng.uniform(20, 120)
            traits["renewal_date"] = _iso_day(self.start + renewal_day * DAY)
            traits["auto_renew"] = rng.random() < 0.4
        yield {
            "type": "identify",
            "messageId": self._id(user),
            "userId": user,
            "timestamp": self.start + first_day * DAY - 3600,
            "traits": traits,
        }
        if segment.name == "new":
            yield self._msg(user, self.start + first_day * DAY, "signed_up", "web", plan="free", source="web")
        if subscriber:
            yield self._msg(
                user,
                self.start + (first_day + rng.uniform(0, 5)) * DAY,
                "subscription_started",
                "web",
                plan="annual",
            )
        lapses_at = self.days * rng.uniform(0.3, 0.6) if rng.random() < segment.lapse else math.inf
        last_order = -math.inf
        day = first_day
        pending: list[tuple[float, str]] = []  # complementary purchases due later
        while day < self.days:
            day += rng.expovariate(segment.visits_per_week / 7 * _season(day))
            if day >= self.days:
                break
            at = self._local_time(rng, day, zone)
            channel = "app" if app and rng.random() < 0.5 else "web"
            category = rng.choice(tuple(CATALOGUE))
            if pending and pending[0][0] <= day:
                category = pending.pop(0)[1]
            (low, high), complements = CATALOGUE[category]
            price = round(rng.uniform(low, high) * budget, 2)
            if channel == "app":
                yield self._msg(user, at - 60, "app_opened", "app")
            yield self._msg(
                user,
                at,
                "product_viewed",
                channel,
                product_id=f"{category}-{rng.randrange(50)}",
                price=price,
                category=category,
            )
            if rng.random() < 0.5:
                yield self._msg(
                    user,
                    at + 120,
                    "product_viewed",
                    channel,
                    product_id=f"{category}-{rng.randrange(50)}",
                    price=price,
                    category=category,
                )
            buys = day < lapses_at and rng.random() < min(
                0.9, segment.orders_per_month / 30 * 7 / segment.visits_per_week * 1.5
            )
            if rng.random() < segment.cart_abandon and not buys:
                yield self._msg(
                    user, at + 300, "cart_abandoned", channel, value=price, cart_id=f"k{self.count}"
                )
                buys = day < lapses_at and rng.random() < 0.25
                at += rng.uniform(0.5, 3) * DAY
            if buys:
                store = rng.random() < segment.store_share
                yield self._msg(
                    user,
                    at + 600,
                    "order_completed",
                    "store" if store else channel,
                    revenue=price,
                    category=category,
                )
                last_order = day
                for complement in complements:
                    if rng.random() < 0.35:
                        pending.append((day + rng.uniform(3, 20), complement))
                pending.sort()
                if rng.random() < 0.12:
                    yield self._msg(
                        user,
                        at + rng.uniform(2, 6) * DAY,
                        "survey_submitted",
                        "call_centre",
                        nps=rng.choice((1, 3, 5, 6, 7, 8, 8, 9, 9, 10, 10, 10)),
                        comment="",
                    )
                if segment.name == "loyal" and rng.random() < 0.05:
                    yield self._msg(
                        user,
                        at + rng.uniform(1, 9) * DAY,
                        "referral_sent",
                        "web",
                        friend_email=f"friend-{self.count}@example.com",
                    )
        if subscriber and rng.random() < 0.5:
            renew_at = _parse_day(traits["renewal_date"])
            if renew_at < self.start + self.days * DAY:
                yield self._msg(
                    user, renew_at - rng.uniform(0, 3) * DAY, "subscription_renewed", "web", revenue=99
                )
        yield from self._memberships(rng, user, segment, last_order, lapses_at)

    def _memberships(
        self, rng: random.Random, user: str, segment: Segment, last_order: float, lapses_at: float
    ) -> Iterator[dict[str, Any]]:
        if segment.name == "loyal" and rng.random() < 0.3:
            yield {
                "type": "rumbo:segment",
                "segment": "vip",
                "entered": True,
                "userId": user,
                "messageId": self._id(user),
                "timestamp": self.start + rng.uniform(5, 80) * DAY,
            }
        if lapses_at < self.days:
            lapsed_day = min(self.days - 1.0, max(lapses_at, last_order if last_order > 0 else 0) + 30)
            yield {
                "type": "rumbo:segment",
                "segment": "lapsing",
                "entered": True,
                "userId": user,
                "messageId": self._id(user),
                "timestamp": self.start + lapsed_day * DAY,
            }
            if rng.random() < 0.2:  # some come back on their own, with or without a nudge
                comeback = lapsed_day + rng.uniform(3, 30)
                if comeback < self.days:
                    yield self._msg(
                        user,
                        self.start + comeback * DAY,
                        "order_completed",
                        "web",
                        revenue=round(rng.uniform(20, 120), 2),
                        category="books",
                    )
            monday = (int(lapsed_day) // 7 + 1) * 7
            while monday < self.days:
                yield {
                    "type": "rumbo:schedule",
                    "journey": "win-back",
                    "userId": user,
                    "messageId": self._id(user),
                    "timestamp": self.start + monday * DAY + 7 * 3600,
                }
                monday += 7


def _iso_day(at: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


def _parse_day(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()
