"""One scrape cycle: collect every target, derive the catalog metrics, hand back points.

Rates are taken over a window of several scrapes (5 minutes by default, as a PromQL
``rate(x[5m])``): one minute of a lightly loaded service is too few events for a
stable ratio or quantile.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
    # The raw scrapes the values came from (for an export of the raw samples).
    results: tuple[ScrapeResult, ...] = field(default=(), repr=False, compare=False)

    def points(self) -> list[Point]:
        return [Point(metric_id, self.ts, value) for metric_id, value in self.values.items()]


class Scraper:
    """Keeps the snapshots of the rate window, since rates need two scrapes.

    The catalog describes the service: with ``derive_from`` (target names) only those
    targets' samples feed the derivation, so another target exposing a family of the
    same name is scraped and kept apart, never counted as the service.
    """

    def __init__(self, collectors: Sequence[Collector], parallel: bool = False,
                 window_scrapes: int = 5, derive_from: Collection[str] | None = None
                 ) -> None:
        if window_scrapes < 1:
            raise ValueError("window_scrapes must be at least 1")
        self.collectors = list(collectors)
        self.derive_from = None if derive_from is None else frozenset(derive_from)
        self._pool = ThreadPoolExecutor(max_workers=len(self.collectors)) \
            if parallel and self.collectors else None
        self._window: deque[Snapshot] = deque(maxlen=window_scrapes)

    def cycle(self, ts: float) -> CycleResult:
        if self._pool is not None:  # live: a slow target must not hold up the others
            results = list(self._pool.map(lambda c: c.collect(), self.collectors))
        else:
            results = [c.collect() for c in self.collectors]
        derived = results if self.derive_from is None else \
            [r for r in results if r.target in self.derive_from]
        snapshot = Snapshot(ts, chain.from_iterable(r.samples for r in derived),
                            stale=chain.from_iterable(r.stale for r in derived),
                            previous=self._window[-1] if self._window else None)
        values = derive_all(self._window[0], snapshot) if self._window else {}
        self._window.append(snapshot)
        self._window[0].forget_previous()  # rates look back no further than the window
        return CycleResult(ts, values, tuple(TargetHealth.of(r) for r in results),
                           tuple(results))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
