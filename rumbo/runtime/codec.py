"""Customer state to bytes and back, compactly: the store keeps one blob per customer.

The layout is a msgpack array with a leading format number, each field in a fixed position, runs as
fixed-position arrays rather than maps, so a waiting run costs its values and little else (no field
names). Times stay float64 so that a state read back steps exactly as the one written. Tuples and
frozensets come back as the types the engine uses, so a decoded Customer equals the encoded one.

Format 2 added the time a run entered its node (`Run.since`), after the timer: nil when it is the entry
time (most waiting runs, which then cost nothing more), false when not known. Format 1 states, written
before it was kept, are still read: their runs' `since` is unknown.
"""

from __future__ import annotations

from typing import Any

import msgpack

from rumbo.engine.state import Customer, Run
from rumbo.errors import RumboError

FORMAT = 2
READABLE = (1, 2)


class StateUnreadable(RumboError):
    """A stored state could not be decoded: written by a newer rumbo, or damaged."""

    def __init__(self, customer: str, why: str) -> None:
        self.customer = customer
        super().__init__(
            f"the stored state of customer {customer} cannot be read ({why}); if a newer rumbo wrote it, "
            "run that version, otherwise restore the database from a backup"
        )


def _run(run: Run) -> list[Any]:
    journey, version, variant = run.of
    since = run.since
    row: list[Any] = [
        run.id,
        journey,
        version,
        run.node,
        run.entered_at,
        run.timer,
        None if since == run.entered_at else False if since is None else since,
        variant,
        run.vars,
    ]
    # Trailing optional fields are left off when empty: most runs have none.
    while row[-1] is None:
        row.pop()
    return row


def _since(row: list[Any], fmt: int) -> float | None:
    if fmt == 1:
        return None
    if len(row) <= 6 or row[6] is None:
        return float(row[4])
    return None if row[6] is False else float(row[6])


def encode(customer: Customer) -> bytes:
    """The stored form of a customer's state (its id is the row's key, so it is not repeated)."""
    blob: bytes = msgpack.packb(
        [
            FORMAT,
            customer.traits,
            customer.consent,
            sorted(customer.tags),
            sorted(customer.segments),
            [_run(r) for r in customer.runs.values()],
            {j: list(e) for j, e in customer.entries.items()},
            customer.counts,
            customer.last,
            customer.sends,
            customer.trackers,
            customer.seq,
        ],
        use_bin_type=True,
    )
    return blob


def decode(customer_id: str, blob: bytes) -> Customer:
    """The Customer a blob from `encode` holds."""
    try:
        (fmt, traits, consent, tags, segments, runs, entries, counts, last, sends, trackers, seq) = (
            msgpack.unpackb(blob, raw=False, use_list=True, strict_map_key=False)
        )
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise StateUnreadable(customer_id, str(exc) or type(exc).__name__) from exc
    if fmt not in READABLE:
        raise StateUnreadable(customer_id, f"format {fmt}, this rumbo reads formats {READABLE}")
    customer = Customer(customer_id, traits, consent, frozenset(tags), frozenset(segments))
    extra = 0 if fmt == 1 else 1  # format 1 had no `since` field before the variant
    for row in runs:
        run_id, journey, version, node, entered_at, timer = row[:6]
        variant = row[6 + extra] if len(row) > 6 + extra else None
        vars = row[7 + extra] if len(row) > 7 + extra else None
        run = customer.runs[run_id] = Run(run_id, journey, version, node, entered_at, variant, timer, vars)
        run.since = _since(row, fmt)
    customer.entries = {j: (int(e[0]), e[1]) for j, e in entries.items()}
    customer.counts = {name: tuple(times) for name, times in counts.items()}
    customer.last = last
    customer.sends = tuple(tuple(s) for s in sends)
    customer.trackers = tuple(tuple(t) for t in trackers)
    customer.seq = seq
    return customer
