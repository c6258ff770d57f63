"""One scrape cycle: collect every target, derive the catalog metrics, hand back points.

Rates are taken over a window of several scrapes (5 minutes by default, as a PromQL
``rate(x[5m])``): one minute of a lightly loaded service is too few events for a
stable ratio or quantile.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from collectors.base import Collector, Sample, ScrapeResult
from monitoring.catalog import derive_all
from monitoring.expr import Keys, LabelKey, Snapshot, label_key
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
                            stale=chain.from_iterable(r.stale for r in derived))
        return self.derive(snapshot, tuple(TargetHealth.of(r) for r in results),
                           tuple(results))

    def derive(self, snapshot: Snapshot, health: tuple[TargetHealth, ...],
               results: tuple[ScrapeResult, ...] = ()) -> CycleResult:
        """The cycle of a snapshot collected elsewhere (``cycle`` collects, then derives)."""
        # The scrape before, so a rate can find where a young series began; rates look
        # back no further than the window, so the link past it is cut.
        snapshot.previous = self._window[-1] if self._window else None
        values = derive_all(self._window[0], snapshot) if self._window else {}
        self._window.append(snapshot)
        self._window[0].forget_previous()
        return CycleResult(snapshot.ts, values, health, results)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


MAX_LAYOUTS = 64  # sets of series a decoder remembers (targets going down and up)

# A target's scrape in a frame: target, ts, up, duration, reason, rejected, then the
# series ids, values and timestamps of its samples and of its stale markers.
_TargetFrame = tuple[str, float, bool, float, str | None, tuple[str, ...],
                     array, array, array, array, array, array]


@dataclass(frozen=True)
class Frame:
    """One cycle's scrapes in a compact form for another process: every series is
    sent once, with its labels, then by id; values and timestamps go as arrays."""

    ts: float
    new_series: tuple[tuple[str, dict[str, str]], ...]  # ids continue the table
    targets: tuple[_TargetFrame, ...]


class FrameEncoder:
    """Numbers each series the first time it is seen and sends it by number after.

    A target whose samples name the same series in the same order as last time (the
    usual case) reuses last time's numbers: two list comparisons instead of a lookup
    per sample.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str, tuple[tuple[str, str], ...]], int] = {}
        self._last: dict[tuple[str, bool], tuple[list[str], list[Mapping[str, str]], array]] = {}

    def encode(self, ts: float, results: Sequence[ScrapeResult]) -> Frame:
        new: list[tuple[str, dict[str, str]]] = []
        targets = []
        for r in results:
            parts: list[array] = []
            for stale, samples in ((False, r.samples), (True, r.stale)):
                names = [s.name for s in samples]
                labels = [s.labels for s in samples]
                last = self._last.get((r.target, stale))
                if last is not None and last[0] == names and last[1] == labels:
                    ids = last[2]
                else:
                    ids = array("q", [self._id(r.target, s, new) for s in samples])
                    self._last[(r.target, stale)] = (names, labels, ids)
                parts += (ids, array("d", [s.value for s in samples]),
                          array("d", [s.ts for s in samples]))
            targets.append((r.target, r.ts, r.up, r.duration_s, r.reason, tuple(r.rejected),
                            *parts))
        return Frame(ts, tuple(new), tuple(targets))  # type: ignore[arg-type]

    def _id(self, target: str, s: Sample, new: list[tuple[str, dict[str, str]]]) -> int:
        key = (target, s.name, tuple(s.labels.items()))
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = len(self._ids)
            new.append((s.name, dict(s.labels)))
        return sid


class FrameDecoder:
    """Turns frames back into snapshots, and into the scrape results when asked.

    A snapshot holds each name's series as a column; the layout (which positions of a
    frame make which column) is the same scrape after scrape, so it is worked out once
    per set of series and its key tuples are shared by every snapshot that has it.
    """

    def __init__(self) -> None:
        self._series: list[tuple[str, LabelKey, dict[str, str]]] = []
        self._layouts: dict[bytes, dict[str, tuple[Keys, tuple[dict[str, str], ...],
                                                    np.ndarray]]] = {}

    def decode(self, frame: Frame, with_results: bool = False
               ) -> tuple[Snapshot, tuple[TargetHealth, ...], tuple[ScrapeResult, ...]]:
        for name, labels in frame.new_series:
            self._series.append((name, label_key(labels), labels))
        every_id, every_value = array("q"), array("d")
        health = []
        results = []
        stale: list[Sample] = []
        for (target, ts, up, duration, reason, rejected,
             ids, values, stamps, stale_ids, stale_values, stale_stamps) in frame.targets:
            every_id.extend(ids)
            every_value.extend(values)
            stale += self._samples(stale_ids, stale_values, stale_stamps)
            health.append(TargetHealth(target, up, reason, duration, len(ids)))
            if with_results:
                results.append(ScrapeResult(
                    target, ts, up, duration, self._samples(ids, values, stamps), reason,
                    rejected, self._samples(stale_ids, stale_values, stale_stamps)))
        layout = self._layout(every_id)
        values_all = np.frombuffer(every_value, dtype=float) if every_value else np.zeros(0)
        columns = {name: (keys, labels, values_all[positions])
                   for name, (keys, labels, positions) in layout.items()}
        return (Snapshot.from_columns(frame.ts, columns, stale), tuple(health),
                tuple(results))

    def _layout(self, ids: array) -> dict[str, tuple[Keys, tuple[dict[str, str], ...],
                                                      np.ndarray]]:
        signature = ids.tobytes()
        layout = self._layouts.get(signature)
        if layout is None:
            by_name: dict[str, list[int]] = {}
            for position, sid in enumerate(ids):
                by_name.setdefault(self._series[sid][0], []).append(position)
            layout = {}
            for name, positions in by_name.items():
                rows = [self._series[ids[p]] for p in positions]
                layout[name] = (tuple(r[1] for r in rows), tuple(r[2] for r in rows),
                                np.array(positions, dtype=np.intp))
            if len(self._layouts) >= MAX_LAYOUTS:
                self._layouts.clear()
            self._layouts[signature] = layout
        return layout

    def _samples(self, ids: array, values: array, stamps: array) -> tuple[Sample, ...]:
        table = self._series
        return tuple(Sample(table[i][0], table[i][2], v, t)
                     for i, v, t in zip(ids, values, stamps, strict=True))
