"""The collector protocol: one method, ``collect()``, returning a ScrapeResult.

A failed scrape is data, not an exception: ``up`` is False and ``reason`` says why.
A successful scrape may say in ``reason`` how it was read (the exposition format).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one series at one instant (``ts`` in epoch seconds)."""

    name: str
    labels: Mapping[str, str]
    value: float
    ts: float


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    """What one collection of one target produced."""

    target: str
    ts: float
    up: bool
    duration_s: float
    samples: tuple[Sample, ...] = ()
    reason: str | None = None
    rejected: tuple[str, ...] = field(default=())  # why individual samples were dropped
    # Stale markers for the series this target had last time and no longer has.
    stale: tuple[Sample, ...] = field(default=())


class Collector(Protocol):
    """Anything that turns a target into samples."""

    target: str

    def collect(self) -> ScrapeResult: ...
