"""A synthetic week of the catalog's metrics with faults injected, for alert tests.

Daily shape on traffic, noise everywhere, and each fault kind moving the metrics it
moves in the real engine. Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

from monitoring.groundtruth import FaultRecord

DAY = 86400.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00Z, a Thursday

NORMAL = {  # metric: (level, noise sd)
    "latency_p50": (12.0, 0.8), "latency_p95": (30.0, 2.0), "latency_p99": (60.0, 4.0),
    "latency_p95_us": (28.0, 2.0), "latency_p95_eu": (30.0, 2.0),
    "latency_p95_asia": (40.0, 2.5),
    "error_rate": (0.05, 0.02), "availability": (99.99, 0.004),
    "builder_error_rate": (0.1, 0.04), "l2_error_rate": (0.0, 0.0),
    "l1_hit_rate": (55.0, 2.0), "l2_hit_rate": (80.0, 2.0), "cache_hit_rate": (91.0, 1.0),
    "l1_items": (400.0, 10.0), "cache_evictions": (0.2, 0.05),
    "db_query_p95": (2.0, 0.2), "db_pool_utilisation": (20.0, 3.0),
    "db_slow_queries": (0.01, 0.005), "replication_lag_eu": (20.0, 4.0),
    "replication_lag_asia": (25.0, 5.0), "cpu_usage": (0.3, 0.03),
    "memory_rss": (120.0, 2.0), "regions_up": (3.0, 0.0), "l2_memory": (30.0, 0.5),
    "db_query_p95_us": (2.0, 0.2), "db_query_p95_eu": (2.1, 0.2),
    "db_query_p95_asia": (2.3, 0.25),
}
# Each region's share of the traffic (and of the CPU it costs).
SHARES = {"us": 0.45, "eu": 0.35, "asia": 0.20}

FAULTS = (  # kind, target, start offset, duration (as in config.yaml)
    ("l1_flush", "us", 1 * DAY + 10 * 3600, 60),
    ("l2_down", "us", 1 * DAY + 14 * 3600, 40 * 60),
    ("index_dropped", "us", 2 * DAY + 9.5 * 3600, 3600),
    ("builder_errors", "us", 3 * DAY + 11 * 3600, 30 * 60),
    ("replica_lag", "eu", 4 * DAY + 15 * 3600, 45 * 60),
    ("region_down", "asia", 5 * DAY + 20 * 3600, 20 * 60),
)


def week(seed: int = 7, days: int = 7, start: float = T0, faults: bool = True
         ) -> tuple[np.ndarray, dict[str, np.ndarray], list[FaultRecord]]:
    rng = np.random.default_rng(seed)
    ts = start + np.arange(int(days * DAY / 60)) * 60.0
    hour = (ts % DAY) / 3600
    diurnal = 1 + 0.6 * np.sin((hour - 8) / 24 * 2 * np.pi)  # peak mid-afternoon UTC
    v = {m: lvl + sd * rng.standard_normal(ts.size) for m, (lvl, sd) in NORMAL.items()}
    v["request_rate"] = 40 * diurnal + 2 * rng.standard_normal(ts.size)
    v["cpu_usage"] = v["cpu_usage"] * diurnal
    for r, share in SHARES.items():
        v[f"requests_{r}"] = share * v["request_rate"] + rng.standard_normal(ts.size)
        v[f"cpu_usage_{r}"] = share * v["cpu_usage"] + 0.01 * rng.standard_normal(ts.size)
    v["availability"] = np.minimum(v["availability"], 100.0)
    for m in ("error_rate", "builder_error_rate", "db_slow_queries"):
        v[m] = np.abs(v[m])
    records = []
    for kind, target, off, dur in FAULTS if faults else ():
        s, e = start + off, start + off + dur
        records.append(FaultRecord(kind, target, s, e))
        w = (ts >= s) & (ts < e)
        if kind == "l1_flush":
            w = (ts >= s) & (ts < s + 300)  # hit rate refills over a few minutes
            v["l1_hit_rate"][w] = 5.0
            v["cache_hit_rate"][w] = 70.0
        elif kind == "l2_down":
            v["l2_hit_rate"][w] = 0.0
            v["l2_error_rate"][w] = 45.0
            v["cache_hit_rate"][w] = v["l1_hit_rate"][w]
            v["latency_p95"][w] += 40
        elif kind == "index_dropped":
            v["db_query_p95"][w] = 15.0
            v[f"db_query_p95_{target}"][w] = 25.0
            v["db_slow_queries"][w] = 2.0
        elif kind == "builder_errors":
            v["builder_error_rate"][w] = 30.0
            v["error_rate"][w] = 6.0
            v["availability"][w] = 94.0
        elif kind == "replica_lag":
            v["replication_lag_eu"][w] = 5000.0
        elif kind == "region_down":
            v["regions_up"][w] = 2.0
            v["availability"][w] = 70.0
            v["request_rate"][w] *= 0.66
            v[f"requests_{target}"][w] = 0.0
    return ts, v, records
