"""The backfill's range: the last complete weeks and on to now, filling only what is missing."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.app.backfill import backfill_range, prepare_range, run_backfill
from monitoring.app.config import parse_config
from monitoring.groundtruth import FaultLog
from monitoring.store.base import Point, StoreError
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import iso_week

MONDAY = iso_week("2026-W45")[0]


def test_range_runs_from_the_complete_weeks_on_to_the_current_minute():
    now = MONDAY + 2 * 86400 + 5 * 3600 + 17 * 60 + 42.5  # Wednesday 05:17:42.5
    start, end = backfill_range(now, 7, 60.0)
    assert start == MONDAY - 7 * 86400
    assert end == MONDAY + 2 * 86400 + 5 * 3600 + 17 * 60
    assert backfill_range(now, 7, 60.0, end=MONDAY) == (MONDAY - 7 * 86400, MONDAY)


@pytest.fixture
def config(tmp_path):
    return parse_config({
        "store": {"path": str(tmp_path / "ionmon.db")},
        "engine": {"traffic": {"peak_requests_per_minute": 10}},
        "backfill": {"warmup": "10m", "faults": [
            {"kind": "l2_down", "target": "us", "at": "20m", "duration": "10m"},
            {"kind": "index_dropped", "target": "us", "at": "80m", "duration": "10m"}]},
    })


def _ts(path) -> dict[str, np.ndarray]:
    store = SQLiteStore(path)
    try:
        return {k: s.ts for k, s in store.read_many(store.series_ids(), 0, 4e9).items()}
    finally:
        store.close()


def test_without_replace_only_the_missing_part_is_filled(config):
    start = MONDAY
    store = SQLiteStore(config.store.path, retention_s=None)
    faults = FaultLog(config.store.path)
    try:
        assert prepare_range(store, faults, start, start + 3600, replace=False)
        run_backfill(config, store, faults, start, 0, end=start + 3600)
        first = {k: v.copy() for k, v in _ts(config.store.path).items()}
        assert prepare_range(store, faults, start, start + 7200, replace=False)
        summary = run_backfill(config, store, faults, start, 0, end=start + 7200)
        assert summary.cycles == 60  # the second hour only
        assert not prepare_range(store, faults, start, start + 7200, replace=False)
        recorded = [(f.kind, f.start) for f in faults.between(start, start + 7200)]
    finally:
        store.close()
        faults.close()
    after = _ts(config.store.path)
    grid = start + 60.0 * np.arange(1, 121)
    assert set(first) <= set(after)
    for series, ts in after.items():  # no minute written twice, none off the grid
        assert np.all(np.diff(ts) > 0) and np.isin(ts, grid).all(), series
    for series, ts in first.items():  # the first hour kept as it was written
        assert np.array_equal(after[series][after[series] <= start + 3600], ts), series
    assert np.array_equal(np.unique(np.concatenate(list(after.values()))), grid)
    # Each fault recorded once, the one in the filled hour by the second run.
    assert recorded == [("l2_down", start + 1200), ("index_dropped", start + 4800)]


def test_a_gap_before_stored_data_needs_replace(config):
    store = SQLiteStore(config.store.path, retention_s=None)
    faults = FaultLog(config.store.path)
    try:
        store.write([Point("latency_p95", MONDAY, 1.0)])
        with pytest.raises(StoreError, match="--replace"):
            prepare_range(store, faults, MONDAY, MONDAY + 3600, replace=False)
        assert prepare_range(store, faults, MONDAY, MONDAY + 3600, replace=True)
    finally:
        store.close()
        faults.close()
