"""Stores for the report tests: a real one-day backfill and a synthetic fortnight."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from monitoring.app.backfill import run_backfill
from monitoring.app.config import Config, parse_config
from monitoring.catalog import CATALOG
from monitoring.groundtruth import FaultLog, FaultRecord
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import WEEK_S, iso_week

REAL_WEEK = "2026-W45"
SYNTH_WEEKS = ("2026-W45", "2026-W46")
INDEX_FAULT_AT = 2 * 86400 + 10 * 3600  # Wednesday 10:00 of the second week
INDEX_FAULT_S = 3600


@dataclass(frozen=True)
class Built:
    config: Config
    store_path: Path
    week_start: float
    seconds: float  # how long building took


def _config(tmp: Path, **extra: object) -> Config:
    return parse_config({
        "store": {"path": str(tmp / "ionmon.db")},
        "output_dir": str(tmp / "out"),
        "alerts": {"state_path": str(tmp / "alerts.db"), "rules_path": str(tmp / "rules.yaml")},
        **extra,
    })


@pytest.fixture(scope="session")
def real_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """One modelled day through the real engine, with an index dropped for an hour."""
    tmp = tmp_path_factory.mktemp("real")
    config = _config(tmp, engine={"traffic": {"peak_requests_per_minute": 20}},
                     backfill={"faults": [{"kind": "index_dropped", "target": "us",
                                           "at": "10h", "duration": "1h"}]})
    start = iso_week(REAL_WEEK)[0]
    store, faults = SQLiteStore(config.store.path), FaultLog(config.store.path)
    began = time.perf_counter()
    run_backfill(config, store, faults, start, 1)
    took = time.perf_counter() - began
    store.close()
    faults.close()
    yield Built(config, Path(config.store.path), start, took)


def _typical(metric_id: str) -> float:
    m = CATALOG[metric_id]
    if m.target is None:
        return 5.0
    if m.target.op in ("<", "<="):
        return m.target.value * 0.5
    return min(m.target.value * 1.05, 99.99) if m.unit == "%" else m.target.value


def synthetic_points(start: float, weeks: int, fault: FaultRecord, seed: int = 7) -> list[Point]:
    """Diurnal, noisy minute samples for every metric; the fault moves its two DB metrics."""
    rng = np.random.default_rng(seed)
    ts = start + 60.0 * np.arange(1, weeks * WEEK_S // 60 + 1)
    day = np.sin((ts % 86400) / 86400 * 2 * math.pi)
    points = []
    for mid, metric in CATALOG.items():
        base = _typical(mid)
        if metric.unit == "regions":
            values = np.full(len(ts), base)
        else:
            values = base * (1 + 0.1 * day + 0.02 * rng.standard_normal(len(ts)))
            if metric.unit == "%":
                values = np.clip(values, 0, 100)
        if mid in ("db_query_p95", "db_slow_queries"):
            during = (ts > fault.start) & (ts <= fault.end)
            values = np.where(during, values * 20 + 1, values)
        points += [Point(mid, float(t), float(v)) for t, v in zip(ts, values, strict=True)]
    return points


@pytest.fixture(scope="session")
def two_weeks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Two synthetic ISO weeks; an index is dropped only in the second one."""
    tmp = tmp_path_factory.mktemp("synth")
    config = _config(tmp)
    first = iso_week(SYNTH_WEEKS[0])[0]
    second = iso_week(SYNTH_WEEKS[1])[0]
    fault = FaultRecord("index_dropped", "us", second + INDEX_FAULT_AT,
                        second + INDEX_FAULT_AT + INDEX_FAULT_S)
    began = time.perf_counter()
    store, faults = SQLiteStore(config.store.path), FaultLog(config.store.path)
    store.write(synthetic_points(first, 2, fault))
    store.seal_all()
    faults.record(fault)
    store.close()
    faults.close()
    yield Built(config, Path(config.store.path), second, time.perf_counter() - began)


@pytest.fixture(scope="session")
def real_two_weeks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Two modelled weeks through the real engine; an index is dropped only in the second.

    Scraped every 10 virtual minutes (rates over 10 minutes) to keep the fortnight quick.
    """
    tmp = tmp_path_factory.mktemp("real2")
    config = _config(
        tmp,
        engine={"traffic": {"peak_requests_per_minute": 20}},
        scrape={"interval": "10m", "timeout": "5s", "rate_window": "10m"},
        backfill={"warmup": "1h", "faults": [{
            "kind": "index_dropped", "target": "us",
            "at": WEEK_S + INDEX_FAULT_AT, "duration": 24 * INDEX_FAULT_S}]},
    )
    start = iso_week(SYNTH_WEEKS[0])[0]
    store, faults = SQLiteStore(config.store.path), FaultLog(config.store.path)
    began = time.perf_counter()
    run_backfill(config, store, faults, start, 14)
    took = time.perf_counter() - began
    store.close()
    faults.close()
    yield Built(config, Path(config.store.path), iso_week(SYNTH_WEEKS[1])[0], took)
