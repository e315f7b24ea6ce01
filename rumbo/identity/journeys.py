"""Merging the engine's state of two customers, so that journeys carry on for the surviving customer.

The rules, each chosen so that the result does not depend on which customer survived:

* **Runs** of both customers follow the survivor. If both hold runs of one journey and a version involved
  does not allow concurrent runs, the side whose run entered first (ties by run id) keeps its runs; the
  other side's runs of that journey are stopped: a `stopped` transition and a timer cancellation each.
  A stopped run leaves no goal tracker: the kept run speaks for the customer's goal.
* **Entries** (journey -> times entered, last entry): times add up, the last entry is the later one, so
  re-entry limits and cooldowns count the person, not the device.
* **Counts** (kept event times) are joined and sorted; **sends** (recent sends, for caps and arbitration)
  are joined in time order, so frequency caps see everything sent to the person.
* **Last** (event -> the last such event): the one with the later ``timestamp``; if either lacks a readable
  timestamp, the survivor's.
* **Trackers** (finished runs inside their goal window) of both are kept, one per run.
* **Tags and segments**: the union (segments are re-evaluated by the runtime afterwards).
* **Traits and consent**: from the merged Profile when one is given (latest change wins, profile.py);
  without one, the survivor's values win and the merged customer's fill the gaps.
* **Timer tokens**: the survivor's sequence continues from the larger of the two, so a new timer can never
  reuse a token that a moved run's old timer carried. Moved runs' pending timers are to be re-keyed by the
  runtime from the merged customer to the survivor (`moved_runs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rumbo.engine.commands import CancelTimer, Command
from rumbo.engine.state import Customer, Run
from rumbo.errors import RumboError
from rumbo.identity.profile import Profile
from rumbo.journey.model import Journey
from rumbo.records import Transition


class CustomersNotMergeable(RumboError):
    """Two engine states cannot be one customer's: they are the same customer, or share a run."""

    def __init__(self, survivor: str, merged: str, runs: list[str]) -> None:
        self.survivor, self.merged, self.runs = survivor, merged, runs
        what = f"both hold runs {', '.join(runs)}" if runs else "they are the same customer"
        super().__init__(
            f"cannot merge customer {merged} into {survivor}: {what}; merge states only as the identity "
            "graph's Merge events say, each customer's state once"
        )


@dataclass(frozen=True, slots=True)
class CustomerMerge:
    """The survivor's new engine state, and what the runtime must do about the runs that moved or stopped."""

    customer: Customer
    moved_runs: tuple[str, ...]  # runs that came from the merged customer; re-key their pending timers
    stopped: tuple[Run, ...]  # runs stopped because the other side had a run of the journey first
    commands: tuple[Command, ...]  # CancelTimer and `stopped` Transition for each stopped run


def merge_customers(
    survivor: Customer,
    merged: Customer,
    journeys: Mapping[tuple[str, int], Journey],
    *,
    at: float,
    input: str,
    workspace: str = "",
    profile: Profile | None = None,
) -> CustomerMerge:
    """`survivor` holding both customers' engine state, by the rules in the module docstring.

    `journeys` are the workspace's journey versions (`Engine.versions`); a version not found there is treated
    as not allowing concurrent runs. `input` is the merge event's id; it is the cause of stopped runs.
    Neither argument is modified. Raises CustomersNotMergeable for a customer merged with itself, or two
    states holding the same run (one state given twice).
    """
    shared = sorted(survivor.runs.keys() & merged.runs.keys())
    if survivor.id == merged.id or shared:
        raise CustomersNotMergeable(survivor.id, merged.id, shared)
    kept, stopped = _runs(survivor, merged, journeys)
    commands: list[Command] = []
    for owner, run in stopped:
        if run.timer:
            commands.append(CancelTimer(owner.id, run.id, run.timer))
        commands.append(
            Transition(
                workspace=workspace,
                customer=owner.id,
                journey=run.journey,
                version=run.version,
                run=run.id,
                from_node=run.node,
                to_node=None,
                cause="stopped",
                input=input,
                at=at,
                variant=run.variant,
                since=run.since,
            )
        )
    new = Customer(
        survivor.id,
        traits=profile.traits if profile else {**merged.traits, **survivor.traits},
        consent=profile.consent if profile else {**merged.consent, **survivor.consent},
        tags=survivor.tags | merged.tags,
        segments=survivor.segments | merged.segments,
    )
    new.runs = {run.id: run.clone() for run in kept}
    new.entries = _entries(survivor.entries, merged.entries)
    new.counts = {
        event: tuple(sorted((*survivor.counts.get(event, ()), *merged.counts.get(event, ()))))
        for event in sorted(survivor.counts.keys() | merged.counts.keys())
    }
    new.last = _last(survivor.last, merged.last)
    new.sends = tuple(sorted((*survivor.sends, *merged.sends), key=lambda s: (s[0], s[2], s[1])))
    trackers = {t[2]: t for t in (*survivor.trackers, *merged.trackers)}
    new.trackers = tuple(sorted(trackers.values(), key=lambda t: (t[3], t[2])))
    new.seq = max(survivor.seq, merged.seq)
    moved = tuple(sorted(r.id for r in kept if r.id in merged.runs and r.id not in survivor.runs))
    return CustomerMerge(new, moved, tuple(run for _, run in stopped), tuple(commands))


def _runs(
    a: Customer, b: Customer, journeys: Mapping[tuple[str, int], Journey]
) -> tuple[list[Run], list[tuple[Customer, Run]]]:
    """Runs kept, and runs stopped with the customer that held them."""
    kept: list[Run] = []
    stopped: list[tuple[Customer, Run]] = []
    for journey in sorted({r.journey for r in (*a.runs.values(), *b.runs.values())}):
        mine, theirs = a.runs_of(journey), b.runs_of(journey)
        both = (*mine, *theirs)
        concurrent = all((j := journeys.get(r.pair)) is not None and j.concurrent_runs for r in both)
        if concurrent or not mine or not theirs:
            kept.extend(both)
            continue
        first = min(both, key=lambda r: (r.entered_at, r.id))
        if any(r is first for r in mine):
            kept.extend(mine)
            stopped.extend((b, r) for r in theirs)
        else:
            kept.extend(theirs)
            stopped.extend((a, r) for r in mine)
    return sorted(kept, key=lambda r: r.id), sorted(stopped, key=lambda p: p[1].id)


def _entries(
    a: Mapping[str, tuple[int, float]], b: Mapping[str, tuple[int, float]]
) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    for journey in sorted(a.keys() | b.keys()):
        times_a, last_a = a.get(journey, (0, float("-inf")))
        times_b, last_b = b.get(journey, (0, float("-inf")))
        out[journey] = (times_a + times_b, max(last_a, last_b))
    return out


def _last(
    a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]]
) -> dict[str, Mapping[str, Any]]:
    out = dict(b)
    for event, mine in a.items():
        theirs = b.get(event)
        if theirs is None:
            out[event] = mine
            continue
        t_mine, t_theirs = _event_time(mine), _event_time(theirs)
        out[event] = theirs if t_mine is not None and t_theirs is not None and t_theirs > t_mine else mine
    return dict(sorted(out.items()))


def _event_time(event: Mapping[str, Any]) -> float | None:
    """Epoch seconds of a Segment message's ``timestamp`` (ISO 8601 or a number), or None."""
    value = event.get("timestamp")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        # Segment timestamps carry a zone; one without is read as UTC, never as the server's local time.
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None
