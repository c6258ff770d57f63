"""The engine's metrics: one class records them, one does nothing.

Code calls ``Instruments`` methods rather than prometheus-client objects so
that switching metrics off (``metrics_enabled=False``) costs one method call.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04,
                0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5)
DB_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
              0.25, 1)


class NullInstruments:
    """Records nothing (the overhead benchmark's baseline)."""

    enabled = False

    def request_started(self) -> None: ...
    def request_finished(self, endpoint: str, code: int, seconds: float,
                         cpu_seconds: float) -> None: ...
    def declare(self, builders: Sequence[str], personas: Sequence[str]) -> None: ...
    def builder_call(self, builder: str) -> None: ...
    def builder_error(self, builder: str) -> None: ...
    def router_decision(self, persona: str) -> None: ...
    def cache_hit(self, tier: str) -> None: ...
    def cache_miss(self, tier: str) -> None: ...
    def cache_evictions(self, tier: str, count: int) -> None: ...
    def cache_error(self, tier: str) -> None: ...
    def db_query(self, query: str, seconds: float) -> None: ...
    def db_error(self) -> None: ...
    def pool_busy(self, seconds: float) -> None: ...
    def watch_cache(self, tier: str, items: Callable[[], float],
                    memory_bytes: Callable[[], float]) -> None: ...
    def watch_pool(self, size: int, in_use: Callable[[], float]) -> None: ...
    def watch_replication_lag(self, lag: Callable[[], float]) -> None: ...


class _Histogram:
    """Bucket counts (non-cumulative until exposition) and a running sum."""

    __slots__ = ("counts", "total")

    def __init__(self, n_buckets: int) -> None:
        self.counts = [0] * (n_buckets + 1)  # the last slot is +Inf
        self.total = 0.0


class PromInstruments(NullInstruments):
    """The region's metrics as one custom collector on the region's own registry.

    prometheus-client's own Counter/Histogram take a lock and walk the buckets
    in Python on every call (~0.5 us each, a dozen calls per request). Here a
    request adds to plain numbers under one lock and the families are built at
    scrape time through the collector protocol, with the same names, types,
    labels and bucket boundaries.
    """

    enabled = True

    def __init__(self, registry: CollectorRegistry, region: str, slow_query_s: float) -> None:
        self.region = region
        self._slow_s = slow_query_s
        self._lock = threading.Lock()
        self._in_flight = 0
        self._requests: dict[tuple[str, str], float] = {}
        self._durations: dict[str, _Histogram] = {}
        self._builder_calls: dict[str, float] = {}
        self._builder_errors: dict[str, float] = {}
        self._decisions: dict[str, float] = {}
        self._hits: dict[str, float] = {}
        self._misses: dict[str, float] = {}
        self._evictions: dict[str, float] = {}
        self._cache_errors: dict[str, float] = {}
        self._cache_gauges: dict[str, tuple[Callable[[], float], Callable[[], float]]] = {}
        self._db: dict[str, _Histogram] = {}
        self._slow = 0.0
        self._db_errors = 0.0
        self._pool_size = 0.0
        self._pool_in_use: Callable[[], float] = lambda: 0.0
        self._pool_busy = 0.0
        self._lag: Callable[[], float] = lambda: 0.0
        self._cpu = 0.0
        registry.register(self)

    # -- recording -----------------------------------------------------------
    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def request_finished(self, endpoint: str, code: int, seconds: float,
                         cpu_seconds: float) -> None:
        key = (endpoint, _CODES.get(code) or str(code))
        with self._lock:
            self._in_flight -= 1
            self._requests[key] = self._requests.get(key, 0.0) + 1.0
            hist = self._durations.get(endpoint)
            if hist is None:
                hist = self._durations[endpoint] = _Histogram(len(HTTP_BUCKETS))
            hist.counts[bisect_left(HTTP_BUCKETS, seconds)] += 1
            hist.total += seconds
            self._cpu += cpu_seconds

    def _add(self, counts: dict[str, float], key: str, amount: float = 1.0) -> None:
        with self._lock:
            counts[key] = counts.get(key, 0.0) + amount

    def declare(self, builders: Sequence[str], personas: Sequence[str]) -> None:
        # Series exist at 0 before their first event, so rates and ratios work.
        for b in builders:
            self._add(self._builder_calls, b, 0.0)
            self._add(self._builder_errors, b, 0.0)
        for p in personas:
            self._add(self._decisions, p, 0.0)

    def builder_call(self, builder: str) -> None:
        self._add(self._builder_calls, builder)

    def builder_error(self, builder: str) -> None:
        self._add(self._builder_errors, builder)

    def router_decision(self, persona: str) -> None:
        self._add(self._decisions, persona)

    def cache_hit(self, tier: str) -> None:
        self._add(self._hits, tier)

    def cache_miss(self, tier: str) -> None:
        self._add(self._misses, tier)

    def cache_evictions(self, tier: str, count: int) -> None:
        self._add(self._evictions, tier, float(count))

    def cache_error(self, tier: str) -> None:
        self._add(self._cache_errors, tier)

    def db_query(self, query: str, seconds: float) -> None:
        with self._lock:
            hist = self._db.get(query)
            if hist is None:
                hist = self._db[query] = _Histogram(len(DB_BUCKETS))
            hist.counts[bisect_left(DB_BUCKETS, seconds)] += 1
            hist.total += seconds
            if seconds > self._slow_s:
                self._slow += 1.0

    def db_error(self) -> None:
        with self._lock:
            self._db_errors += 1.0

    def pool_busy(self, seconds: float) -> None:
        with self._lock:
            self._pool_busy += seconds

    def watch_cache(self, tier: str, items: Callable[[], float],
                    memory_bytes: Callable[[], float]) -> None:
        for counts in (self._hits, self._misses, self._evictions, self._cache_errors):
            self._add(counts, tier, 0.0)
        self._cache_gauges[tier] = (items, memory_bytes)

    def watch_pool(self, size: int, in_use: Callable[[], float]) -> None:
        self._pool_size = float(size)
        self._pool_in_use = in_use

    def watch_replication_lag(self, lag: Callable[[], float]) -> None:
        self._lag = lag

    # -- exposition (the collector protocol) -------------------------------------
    def describe(self) -> list[Metric]:
        return [Metric(name, doc, kind) for name, doc, kind in _FAMILIES]

    def collect(self) -> list[Metric]:
        r = self.region
        with self._lock:
            snap = _Snapshot(
                requests=dict(self._requests),
                durations={k: (list(h.counts), h.total) for k, h in self._durations.items()},
                db={k: (list(h.counts), h.total) for k, h in self._db.items()},
                builder_calls=dict(self._builder_calls),
                builder_errors=dict(self._builder_errors),
                decisions=dict(self._decisions), hits=dict(self._hits),
                misses=dict(self._misses), evictions=dict(self._evictions),
                cache_errors=dict(self._cache_errors),
                scalars=(self._in_flight, self._slow, self._db_errors, self._pool_busy,
                         self._cpu))
        in_flight, slow, db_errors, pool_busy, cpu = snap.scalars
        out: list[Metric] = []

        f = CounterMetricFamily("ion_http_requests", "HTTP requests handled",
                                labels=["region", "endpoint", "code"])
        for (endpoint, code), v in sorted(snap.requests.items()):
            f.add_metric([r, endpoint, code], v)
        out.append(f)
        out.append(_histogram("ion_http_request_duration_seconds",
                              "Request duration: processing plus network delay",
                              "endpoint", r, HTTP_BUCKETS, snap.durations))
        out.append(_gauge("ion_http_requests_in_flight", "Requests being handled", r,
                          in_flight))
        out.append(_counter_by("ion_builder_calls", "Prompt builder calls", "builder", r,
                               snap.builder_calls))
        out.append(_counter_by("ion_builder_errors", "Prompt builder failures", "builder", r,
                               snap.builder_errors))
        out.append(_counter_by("ion_router_decisions", "Router decisions by persona",
                               "persona", r, snap.decisions))
        out.append(_counter_by("ion_cache_hits", "Cache hits", "tier", r, snap.hits))
        out.append(_counter_by("ion_cache_misses", "Cache misses", "tier", r, snap.misses))
        out.append(_counter_by("ion_cache_evictions", "Capacity evictions", "tier", r,
                               snap.evictions))
        out.append(_counter_by("ion_cache_errors", "Cache backend errors", "tier", r,
                               snap.cache_errors))
        items = GaugeMetricFamily("ion_cache_items", "Items in the cache",
                                  labels=["region", "tier"])
        mem = GaugeMetricFamily("ion_cache_memory_bytes", "Memory used by the cache",
                                labels=["region", "tier"])
        for tier, (items_fn, bytes_fn) in sorted(self._cache_gauges.items()):
            items.add_metric([r, tier], float(items_fn()))
            mem.add_metric([r, tier], float(bytes_fn()))
        out += [items, mem]
        out.append(_histogram("ion_db_query_duration_seconds", "Database query time",
                              "query", r, DB_BUCKETS, snap.db))
        out.append(_counter("ion_db_slow_queries", "Queries slower than the threshold", r,
                            slow))
        out.append(_counter("ion_db_errors", "Database errors", r, db_errors))
        out.append(_gauge("ion_db_pool_size", "Connection pool size", r, self._pool_size))
        out.append(_gauge("ion_db_pool_in_use", "Connections checked out", r,
                          float(self._pool_in_use())))
        out.append(_counter("ion_db_pool_busy_seconds", "Connection checked-out time", r,
                            pool_busy))
        out.append(_gauge("ion_db_replication_lag_seconds",
                          "Age of the oldest unapplied replicated write", r,
                          float(self._lag())))
        out.append(_counter("ion_cpu_seconds", "CPU time spent handling requests", r, cpu))
        return out


_CODES = {c: str(c) for c in range(100, 600)}

_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("ion_http_requests", "HTTP requests handled", "counter"),
    ("ion_http_request_duration_seconds", "Request duration", "histogram"),
    ("ion_http_requests_in_flight", "Requests being handled", "gauge"),
    ("ion_builder_calls", "Prompt builder calls", "counter"),
    ("ion_builder_errors", "Prompt builder failures", "counter"),
    ("ion_router_decisions", "Router decisions by persona", "counter"),
    ("ion_cache_hits", "Cache hits", "counter"),
    ("ion_cache_misses", "Cache misses", "counter"),
    ("ion_cache_evictions", "Capacity evictions", "counter"),
    ("ion_cache_errors", "Cache backend errors", "counter"),
    ("ion_cache_items", "Items in the cache", "gauge"),
    ("ion_cache_memory_bytes", "Memory used by the cache", "gauge"),
    ("ion_db_query_duration_seconds", "Database query time", "histogram"),
    ("ion_db_slow_queries", "Slow queries", "counter"),
    ("ion_db_errors", "Database errors", "counter"),
    ("ion_db_pool_size", "Connection pool size", "gauge"),
    ("ion_db_pool_in_use", "Connections checked out", "gauge"),
    ("ion_db_pool_busy_seconds", "Connection checked-out time", "counter"),
    ("ion_db_replication_lag_seconds", "Replication lag", "gauge"),
    ("ion_cpu_seconds", "CPU time spent handling requests", "counter"),
)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    requests: dict[tuple[str, str], float]
    durations: dict[str, tuple[list[int], float]]
    db: dict[str, tuple[list[int], float]]
    builder_calls: dict[str, float]
    builder_errors: dict[str, float]
    decisions: dict[str, float]
    hits: dict[str, float]
    misses: dict[str, float]
    evictions: dict[str, float]
    cache_errors: dict[str, float]
    scalars: tuple[float, float, float, float, float]


def _counter(name: str, doc: str, region: str, value: float) -> Metric:
    f = CounterMetricFamily(name, doc, labels=["region"])
    f.add_metric([region], value)
    return f


def _counter_by(name: str, doc: str, label: str, region: str,
                values: dict[str, float]) -> Metric:
    f = CounterMetricFamily(name, doc, labels=["region", label])
    for key, v in sorted(values.items()):
        f.add_metric([region, key], v)
    return f


def _gauge(name: str, doc: str, region: str, value: float) -> Metric:
    f = GaugeMetricFamily(name, doc, labels=["region"])
    f.add_metric([region], value)
    return f


def _histogram(name: str, doc: str, label: str, region: str, bounds: tuple[float, ...],
               values: dict[str, tuple[list[int], float]]) -> Metric:
    """A histogram family, as ``HistogramMetricFamily.add_metric`` would build it.

    Collected every scrape minute of a backfill, so the label sets are built once per
    series and shared between scrapes (consumers treat sample labels as read-only).
    """
    f = HistogramMetricFamily(name, doc, labels=["region", label])
    bucket, count, sum_ = f"{name}_bucket", f"{name}_count", f"{name}_sum"
    append = f.samples.append
    for key, (counts, total) in sorted(values.items()):
        series, buckets = _histogram_labels(region, label, key, bounds)
        cumulative = 0
        for labels, cumulative in zip(buckets, accumulate(counts), strict=True):
            append(Sample(bucket, labels, cumulative))
        append(Sample(count, series, cumulative))
        append(Sample(sum_, series, total))
    return f


@lru_cache(maxsize=4096)
def _histogram_labels(region: str, label: str, key: str, bounds: tuple[float, ...]
                      ) -> tuple[dict[str, str], tuple[dict[str, str], ...]]:
    """The labels of one histogram series, and of each of its buckets in ``le`` order."""
    les = [floatToGoString(b) for b in bounds] + ["+Inf"]
    return ({"region": region, label: key},
            tuple({"region": region, label: key, "le": le} for le in les))


Instruments = NullInstruments


def make_instruments(registry: CollectorRegistry, region: str, *, enabled: bool,
                     slow_query_ms: float) -> NullInstruments:
    if not enabled:
        return NullInstruments()
    return PromInstruments(registry, region, slow_query_ms / 1000.0)
