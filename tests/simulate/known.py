"""A behaviour model written by hand, with known rates, and the journeys the tests run on it."""

from __future__ import annotations

import math
from pathlib import Path

from rumbo.journey.load import load_journey
from rumbo.journey.model import Journey
from rumbo.simulate.model import END, QUANTILES, BehaviourModel, Dwell, Response, SegmentModel

HOUR = 3600.0
DAY = 86400.0
SURE = 100_000  # counts this large make every posterior draw the known probability, to 3 decimals


def exponential(mean: float) -> Dwell:
    """Quantiles of an exponential distribution (the last one at 99.9% instead of infinity)."""
    qs = [min(i / (QUANTILES - 1), 0.999) for i in range(QUANTILES)]
    return Dwell([-mean * math.log(1 - q) for q in qs], SURE)


def segment(name: str, customers: int, buy: float, consent_share: float) -> SegmentModel:
    """visit → visit / cart / end; cart → order with chance `buy` (else visit); order → visit."""
    traits = [
        {
            "email": f"x{i}@example.com",
            "timezone": "UTC",
            "segment": name,
            "consent": {"email": i < consent_share * 10},
        }
        for i in range(10)
    ]
    return SegmentModel(
        customers,
        {"visit": SURE},
        exponential(2 * DAY),
        {
            "visit": {"visit": int(0.6 * SURE), "cart": int(0.38 * SURE), END: int(0.02 * SURE)},
            "cart": {"order": int(buy * SURE), "visit": int((1 - buy) * SURE)},
            "order": {"visit": SURE},
        },
        {"visit": exponential(1.5 * DAY), "cart": exponential(2 * DAY), "order": exponential(3 * DAY)},
        {},
        {"visit": [{"page": "/"}], "cart": [{"value": 40}, {"value": 80}], "order": [{"revenue": 50}]},
        traits,
        0,
        0.0,
    )


def known_model(lift: float = 0.3) -> BehaviourModel:
    """Two segments that buy at different rates; an email reminder brings a conversion with chance `lift`."""
    # Response keeps counts; these make the drawn lift `lift`: converted = lift · sends, expected none.
    reminder = Response(SURE, SURE // 2, SURE // 10, lift * SURE, 0.0, exponential(4 * HOUR))
    return BehaviourModel(
        "order",
        3 * DAY,
        "segment",
        {"eager": segment("eager", SURE * 4, 0.5, 0.7), "slow": segment("slow", SURE * 6, 0.15, 0.7)},
        {"email/reminder": reminder, "email": reminder},
        "known",
        0.0,
        60 * DAY,
        0,
    )


JOURNEY = """\
journey: cart-reminder
events: {cart: {properties: {value: number}}, order: {properties: {revenue: number}}, visit: {}}
priority: 60
entry: {event: cart, where: "event.properties.value > 20"}
reentry: {cooldown: 2d}
goal: {event: order, within: 3d}
exit_on: [{event: order}]
quiet_hours: false
nodes:
  pause: {wait: {for: 1h}, next: remind}
  remind: {send: {channel: email, template: reminder}, next: done}
  done: {exit: {}}
"""

NAGGING = """\
journey: nagging
events: {cart: {properties: {value: number}}, order: {properties: {revenue: number}}, visit: {}}
priority: 40
entry: {event: visit}
reentry: {cooldown: 1m}
concurrent_runs: true
quiet_hours: false
nodes:
  nag: {send: {channel: email, template: nag}, next: done}
  done: {exit: {}}
"""

SILENT = """\
journey: cart-silent
events: {cart: {properties: {value: number}}, order: {properties: {revenue: number}}, visit: {}}
priority: 60
entry: {event: cart, where: "event.properties.value > 20"}
reentry: {cooldown: 2d}
goal: {event: order, within: 3d}
nodes:
  pause: {wait: {for: 1h}, next: done}
  done: {exit: {}}
"""


def journey_file(tmp: Path, text: str, name: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return path


def journey(tmp: Path, text: str, name: str) -> Journey:
    return load_journey(journey_file(tmp, text, name))
