"""Turning one collection attempt into a ScrapeResult with its ``up`` and duration samples.

Every collector ends through ``finish``, so a failed scrape is recorded the same way
everywhere: ``up`` 0, a reason, and no other samples.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from collectors.base import Sample, ScrapeResult


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (wall time live, virtual time in backfill)."""
        ...


def finish(
    target: str,
    ts: float,
    started: float,
    samples: Iterable[Sample] = (),
    *,
    reason: str | None = None,
    rejected: Iterable[str] = (),
    note: str | None = None,
    stale: Iterable[Sample] = (),
) -> ScrapeResult:
    """Build the result; ``started`` is a ``time.perf_counter()`` reading.

    ``reason`` fails the scrape; ``note`` says how a successful one was read.

    The duration is real elapsed time even under a virtual clock: it measures the
    collector, not the modelled world.
    """
    up = reason is None
    duration = time.perf_counter() - started
    labels = {"target": target}
    meta = (
        Sample("up", labels, 1.0 if up else 0.0, ts),
        Sample("scrape_duration_seconds", labels, duration, ts),
    )
    body = tuple(samples) if up else ()
    return ScrapeResult(
        target=target,
        ts=ts,
        up=up,
        duration_s=duration,
        samples=body + meta,
        reason=reason if not up else note,
        rejected=tuple(rejected),
        stale=tuple(stale),
    )
