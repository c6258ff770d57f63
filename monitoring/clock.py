"""Clocks are passed in, never read from the wall directly."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class WallClock:
    def now(self) -> float:
        return time.time()


class VirtualClock:
    """A clock that only moves when told to (backfill, tests)."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def set(self, ts: float) -> None:
        if ts < self._now:
            raise ValueError(f"virtual clock cannot go back: {ts} < {self._now}")
        self._now = float(ts)

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)
