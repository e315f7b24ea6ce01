"""One synthetic customer's behaviour: the next event and when, drawn from a DrawnSegment.

The customer holds one pending event from the chain, and possibly one conversion a message brought about
(`respond`). Whichever comes first happens; after a message-borne conversion the chain continues from the
conversion event, as after any other conversion, so a send changes what the customer does next. A natural
conversion before the message-borne one cancels it: a customer converts once per message at most.
"""

from __future__ import annotations

import math
import random
from typing import Any

from rumbo.simulate.model import END, DrawnModel, DrawnSegment


class Behaviour:
    __slots__ = ("at", "conversion", "forced", "name", "rng", "segment")

    def __init__(self, segment: DrawnSegment, rng: random.Random, start: float, conversion: str) -> None:
        self.segment = segment
        self.rng = rng
        self.conversion = conversion
        self.forced = math.inf
        self.name = segment.first.pick(rng.random())
        self.at = start + segment.first_dwell.sample(rng.random()) if self.name != END else math.inf

    @property
    def next_at(self) -> float:
        return self.forced if self.forced < self.at else self.at

    def pop(self) -> tuple[str, float, dict[str, Any]]:
        """The next event (name, time, properties); the chain moves on past it."""
        if self.forced < self.at:
            self.name, self.at = self.conversion, self.forced
        name, at, segment, random = self.name, self.at, self.segment, self.rng.random
        if name == self.conversion:
            self.forced = math.inf
        samples = segment.properties.get(name)
        properties = samples[int(random() * len(samples))] if samples else {}
        choice = segment.transitions.get(name)
        following = choice.pick(random()) if choice is not None else END
        if following == END:
            self.at = math.inf
        else:
            self.at = at + segment.dwell(name, following).sample(random())
            self.name = following
        return name, at, properties

    def respond(self, model: DrawnModel, channel: str, template: str, now: float) -> tuple[bool, bool] | None:
        """Answer a message: (opened, clicked), or None when the model knows nothing of this channel.

        With the message's lift as probability, a conversion is due at now + a delay drawn from what was
        observed after such messages."""
        response = model.response(channel, template)
        if response is None:
            return None
        rng = self.rng
        opened = rng.random() < response.opened
        clicked = opened and rng.random() < response.clicked / max(response.opened, 1e-9)
        if rng.random() < response.lift:
            self.forced = min(self.forced, now + response.delay.sample(rng.random()))
        return opened, clicked
