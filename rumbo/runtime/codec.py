"""Customer state to bytes and back, compactly: the store keeps one blob per customer.

The layout is a msgpack array with a leading format number, each field in a fixed position, runs as
fixed-position arrays rather than maps, so a waiting run costs its values and little else (no field
names). Times stay float64 so that a state read back steps exactly as the one written. Tuples and
frozensets come back as the types the engine uses, so a decoded Customer equals the encoded one.
"""

from __future__ import annotations

from typing import Any

import msgpack

from rumbo.engine.state import Customer, Run
from rumbo.errors import RumboError

FORMAT = 1


class StateUnreadable(RumboError):
    """A stored state could not be decoded: written by a newer rumbo, or damaged."""

    def __init__(self, customer: str, why: str) -> None:
        self.customer = customer
        super().__init__(
            f"the stored state of customer {customer} cannot be read ({why}); if a newer rumbo wrote it, "
            "run that version, otherwise restore the database from a backup"
        )


def _run(run: Run) -> list[Any]:
    row: list[Any] = [run.id, run.of[0], run.of[1], run.node, run.entered_at, run.timer]
    # Trailing optional fields are left off when empty: most runs have neither.
    if run.vars:
        row += [run.variant, run.vars]
    elif run.variant is not None:
        row.append(run.variant)
    return row


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
    if fmt != FORMAT:
        raise StateUnreadable(customer_id, f"format {fmt}, this rumbo reads format {FORMAT}")
    customer = Customer(customer_id, traits, consent, frozenset(tags), frozenset(segments))
    for row in runs:
        run_id, journey, version, node, entered_at, timer = row[:6]
        variant = row[6] if len(row) > 6 else None
        customer.runs[run_id] = Run(
            run_id, journey, version, node, entered_at, variant, timer, row[7] if len(row) > 7 else None
        )
    customer.entries = {j: (int(e[0]), e[1]) for j, e in entries.items()}
    customer.counts = {name: tuple(times) for name, times in counts.items()}
    customer.last = last
    customer.sends = tuple(tuple(s) for s in sends)
    customer.trackers = tuple(tuple(t) for t in trackers)
    customer.seq = seq
    return customer
