"""One scrape cycle: collect every target, derive the catalog metrics, hand back points."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain

from collectors.base import Collector, ScrapeResult
from monitoring.catalog import derive_all
from monitoring.expr import Snapshot
from monitoring.store.base import Point


@dataclass(frozen=True)
class TargetHealth:
    target: str
    up: bool
    reason: str | None
    duration_s: float
    samples: int

    @classmethod
    def of(cls, result: ScrapeResult) -> TargetHealth:
        return cls(result.target, result.up, result.reason, result.duration_s,
                   len(result.samples))


@dataclass(frozen=True)
class CycleResult:
    ts: float
    values: dict[str, float]  # catalog id -> value over the interval ending at ts
    health: tuple[TargetHealth, ...]

    def points(self) -> list[Point]:
        return [Point(metric_id, self.ts, value) for metric_id, value in self.values.items()]


class Scraper:
    """Keeps the previous snapshot, since rates need two scrapes."""

    def __init__(self, collectors: Sequence[Collector], parallel: bool = False) -> None:
        self.collectors = list(collectors)
        self._pool = ThreadPoolExecutor(max_workers=len(self.collectors)) \
            if parallel and self.collectors else None
        self._prev: Snapshot | None = None

    def cycle(self, ts: float) -> CycleResult:
        if self._pool is not None:  # live: a slow target must not hold up the others
            results = list(self._pool.map(lambda c: c.collect(), self.collectors))
        else:
            results = [c.collect() for c in self.collectors]
        snapshot = Snapshot(ts, chain.from_iterable(r.samples for r in results))
        values = derive_all(self._prev, snapshot) if self._prev is not None else {}
        self._prev = snapshot
        return CycleResult(ts, values, tuple(TargetHealth.of(r) for r in results))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
