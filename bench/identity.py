"""Identity resolution throughput: Segment messages -> normalised identifiers -> identity graph.

Population: 50,000 people, each with 1 to 3 devices (anonymous ids); 70 % have an account (user id and
email) and log in on a message with probability 0.3, on 1 % of logins from someone else's device. 300,000
messages in random order. Measured:

* normalise: `identifiers_from_message` on each message (JSON-shaped dict -> identifiers);
* identify: `IdentityGraph.identify` on each message's identifiers (links, merges, refusals);
* floor: a dict lookup of every identifier of every message in a prebuilt identifier -> customer dict,
  the least any resolution must do; the ratio identify / floor says how far the graph is from it.

Each timing is the best of three passes (identify: three fresh graphs over the same stream).
"""

from __future__ import annotations

import platform
import random
import time
from collections.abc import Callable
from typing import Any

from rumbo.identity import Identifier, IdentityGraph, MemoryIdentityStore, identifiers_from_message

PEOPLE = 50_000
MESSAGES = 300_000


def population(rnd: random.Random) -> list[dict[str, Any]]:
    people = []
    for p in range(PEOPLE):
        devices = [f"anon-{p}-{d}" for d in range(rnd.randint(1, 3))]
        account = rnd.random() < 0.7
        people.append(
            {"devices": devices, "user": f"user-{p}" if account else None, "email": f"P{p}@Mail.example"}
        )
    return people


def messages(rnd: random.Random, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for n in range(MESSAGES):
        person = people[rnd.randrange(PEOPLE)]
        message: dict[str, Any] = {"messageId": f"m{n}", "anonymousId": rnd.choice(person["devices"])}
        if person["user"] and rnd.random() < 0.3:
            if rnd.random() < 0.01:  # a shared device: someone else's browser, so a link that is refused
                message["anonymousId"] = rnd.choice(people[rnd.randrange(PEOPLE)]["devices"])
            message["userId"] = person["user"]
            message["traits"] = {"email": person["email"]}
        out.append(message)
    return out


def best(runs: int, work: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rnd = random.Random(7)
    stream = messages(rnd, population(rnd))
    ids = [identifiers_from_message(m) for m in stream]

    def normalise() -> None:
        for message in stream:
            identifiers_from_message(message)

    t_normalise = best(3, normalise)

    counts = {"merges": 0, "refusals": 0, "customers": 0}

    def identify() -> None:
        store = MemoryIdentityStore()
        graph = IdentityGraph(store)
        merges = refusals = 0
        for n, found in enumerate(ids):
            result = graph.identify(found, input=f"m{n}", at=float(n))
            merges += len(result.merges)
            refusals += len(result.refusals)
        counts.update(merges=merges, refusals=refusals, customers=len(list(store.customers())))

    t_identify = best(3, identify)

    table: dict[Identifier, str] = {}
    for found in ids:
        for i in found:
            table.setdefault(i, str(found[0]))

    def floor() -> None:
        get = table.get
        for found in ids:
            for i in found:
                get(i)

    t_floor = best(3, floor)
    rate = MESSAGES / t_identify
    print(f"python                 {platform.python_version()}")
    print(f"messages               {MESSAGES:,} from {PEOPLE:,} people")
    print(
        f"customers at the end   {counts['customers']:,}; "
        f"merges {counts['merges']:,}; refused {counts['refusals']:,}"
    )
    print(f"normalise              {MESSAGES / t_normalise:,.0f} messages/s")
    print(f"identify               {rate:,.0f} messages/s")
    print(f"floor (dict lookups)   {MESSAGES / t_floor:,.0f} messages/s")
    print(f"identify / floor       {t_floor / t_identify:.2f}")


if __name__ == "__main__":
    main()
