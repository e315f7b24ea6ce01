"""The demo's accelerated time: one clock that the demo moves forward and every demo process reads.

The runtime's worker and the relay take their time from it, so waits, quiet hours, timers and retries
behave as they would in production, while 90 days pass in minutes. The time is a double in a small file
in the data directory that every process maps into memory, so the relay, in a process of its own, sees
each move as soon as it is made.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from pathlib import Path

CLOCK_FILE = ".clock"


class SharedClock:
    """Epoch seconds that only move forward; calling the clock reads it (the `clock` of Service and Relay).

    One process (the demo) moves it; the others open the same file with `SharedClock.follow`.
    """

    def __init__(self, path: Path, memory: mmap.mmap) -> None:
        self.path = path
        self._memory = memory

    @classmethod
    def create(cls, home: Path, start: float) -> SharedClock:
        path = home / CLOCK_FILE
        path.write_bytes(struct.pack("d", start))
        with path.open("r+b") as file:
            return cls(path, mmap.mmap(file.fileno(), 8))

    @classmethod
    def follow(cls, path: Path) -> SharedClock:
        """The clock another process moves, read-only."""
        with path.open("rb") as file:
            return cls(path, mmap.mmap(file.fileno(), 8, access=mmap.ACCESS_READ))

    def __call__(self) -> float:
        return float(struct.unpack_from("d", self._memory)[0])

    def advance_to(self, at: float) -> None:
        """Move the clock to `at`; a moment in the past leaves it where it is."""
        if at > self():
            # One aligned 8-byte store: a reader sees the old time or the new one.
            ctypes.c_double.from_buffer(self._memory).value = at

    def close(self) -> None:
        self._memory.close()
