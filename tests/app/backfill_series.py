"""A short seeded backfill through the real engine, reduced to the series derived from
counters alone (no latency, CPU time or measured duration goes into them), so two runs
of any implementation of the backfill loop store the same values."""

from __future__ import annotations

from pathlib import Path

from monitoring.app.backfill import run_backfill
from monitoring.app.config import parse_config
from monitoring.groundtruth import FaultLog
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import iso_week

# Catalog and SLI series computed from counters and untimed gauges only.
UNTIMED = ("request_rate", "error_rate", "availability", "builder_error_rate",
           "l2_error_rate", "l1_hit_rate", "l2_hit_rate", "cache_hit_rate", "l1_items",
           "cache_evictions", "regions_up", "requests_us", "requests_eu", "requests_asia")
START = iso_week("2026-W45")[0] + 9 * 3600  # Monday 09:00, into the morning ramp
HOURS = 3.0
FAULTS = [
    {"kind": "builder_errors", "target": "eu/analyst", "at": "30m", "duration": "40m",
     "params": {"rate": 0.3}},
    {"kind": "l2_down", "target": "us", "at": "1h", "duration": "30m"},
    {"kind": "l1_flush", "target": "asia", "at": "1h30m", "duration": "1m"},
    {"kind": "region_down", "target": "eu", "at": "2h", "duration": "20m"},
]


def backfill_series(tmp: Path) -> dict[str, list[list[float]]]:
    """``metric id -> [[ts, value], ...]`` of every untimed series of the short backfill."""
    config = parse_config({"store": {"path": str(tmp / "ionmon.db")},
                           "backfill": {"faults": FAULTS}})
    store, faults = SQLiteStore(config.store.path), FaultLog(config.store.path)
    try:
        run_backfill(config, store, faults, START, HOURS / 24)
        return {mid: [[t, v] for t, v in zip(*_read(store, mid), strict=True)] for mid in UNTIMED}
    finally:
        store.close()
        faults.close()


def _read(store: SQLiteStore, metric_id: str) -> tuple[list[float], list[float]]:
    series = store.read(metric_id, START, START + HOURS * 3600 + 1)
    return [float(t) for t in series.ts], [float(v) for v in series.values]
