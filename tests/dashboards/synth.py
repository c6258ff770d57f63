"""Synthetic history for dashboard tests and the render benchmark.

Plausible levels per metric with a daily cycle, noise and one injected incident, so
charts, thresholds and statuses all have something to show.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from monitoring.catalog import RECORDED
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore

END = 1_795_000_000.0 - (1_795_000_000.0 % 60)  # a fixed minute boundary (Nov 2026)

# metric id -> (level, relative daily swing, relative noise)
_LEVELS = {
    "latency_p50": (14, 0.25, 0.05), "latency_p95": (32, 0.25, 0.06),
    "latency_p99": (61, 0.3, 0.08), "latency_p95_us": (28, 0.2, 0.06),
    "latency_p95_eu": (34, 0.2, 0.06), "latency_p95_asia": (46, 0.2, 0.06),
    "request_rate": (3.2, 0.6, 0.05), "error_rate": (0.12, 0.3, 0.3),
    "availability": (99.985, 0.0, 0.00002), "builder_error_rate": (0.3, 0.3, 0.3),
    "l2_error_rate": (0.0, 0.0, 0.0), "l1_hit_rate": (52, 0.05, 0.03),
    "l2_hit_rate": (71, 0.05, 0.03), "cache_hit_rate": (86, 0.03, 0.02),
    "l1_items": (1400, 0.2, 0.02), "cache_evictions": (0.8, 0.5, 0.2),
    "db_query_p95": (2.1, 0.2, 0.08), "db_pool_utilisation": (22, 0.5, 0.08),
    "db_slow_queries": (0.02, 0.5, 0.4), "replication_lag_eu": (18, 0.2, 0.15),
    "replication_lag_asia": (31, 0.2, 0.15), "cpu_usage": (0.18, 0.5, 0.06),
    "memory_rss": (142, 0.02, 0.005), "regions_up": (3, 0.0, 0.0),
    "l2_memory": (24, 0.05, 0.01),
    "requests_us": (1.5, 0.6, 0.05), "requests_eu": (1.1, 0.6, 0.05),
    "requests_asia": (0.6, 0.6, 0.05), "fast_requests_us": (99.2, 0.0, 0.003),
    "fast_requests_eu": (98.9, 0.0, 0.003), "fast_requests_asia": (97.5, 0.0, 0.005),
    **{f"{metric}_{r}": (level * share, swing, noise)
       for r, share in (("us", 0.45), ("eu", 0.35), ("asia", 0.2))
       for metric, (level, swing, noise) in (("cpu_usage", (0.18, 0.5, 0.06)),
                                             ("db_slow_queries", (0.02, 0.5, 0.4)))},
    **{f"db_query_p95_{r}": (2.1, 0.2, 0.08) for r in ("us", "eu", "asia")},
}


def series(metric_id: str, ts: np.ndarray, seed: int = 7) -> np.ndarray:
    level, swing, noise = _LEVELS[metric_id]
    rng = np.random.default_rng(zlib.crc32(metric_id.encode()) + seed)
    day = np.sin((ts % 86400) / 86400 * 2 * np.pi - np.pi / 2)
    v = level * (1 + swing * 0.5 * (day + 1)) * (1 + noise * rng.standard_normal(len(ts)))
    # One incident two hours before the end: the L2 goes down.
    hit = (ts > END - 2 * 3600) & (ts < END - 2 * 3600 + 1800)
    if metric_id in ("latency_p95", "latency_p95_us", "latency_p99"):
        v = np.where(hit, v * 2.2, v)
    if metric_id in ("l2_hit_rate", "cache_hit_rate"):
        v = np.where(hit, v * 0.35, v)
    if metric_id == "fast_requests_us":
        v = np.where(hit, v * 0.8, v)
    if metric_id.startswith("fast_requests_"):
        v = np.minimum(v, 100.0)
    if metric_id == "regions_up":
        v = np.round(v)
    if metric_id == "availability":
        v = np.minimum(v, 100.0)
    return np.maximum(v, 0.0)


def fill(store: SQLiteStore, days: float = 1.0, end: float = END, step: float = 60.0,
         metric_ids: list[str] | None = None) -> None:
    ts = np.arange(end - days * 86400, end + step / 2, step)
    for mid in metric_ids or list(RECORDED):
        vals = series(mid, ts)
        store.write(Point(mid, float(t), float(v)) for t, v in zip(ts, vals, strict=True))
    store.seal_all()


def make_store(path: Path, days: float = 1.0, end: float = END) -> SQLiteStore:
    store = SQLiteStore(path)
    fill(store, days=days, end=end)
    return store
