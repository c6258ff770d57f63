"""A backfill killed with SIGKILL keeps every sample it had committed."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import yaml

from monitoring.store.sqlite import SQLiteStore

END = "2026-11-16"  # a Monday: the backfill covers the days before it


def _snapshot(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    store = SQLiteStore(path)
    try:
        data = store.read_many(store.series_ids(), 0, 4e9)
        return {k: (v.ts.copy(), v.values.copy()) for k, v in data.items()}
    finally:
        store.close()


def test_sigkill_midway_loses_no_committed_sample(tmp_path):
    db = tmp_path / "ionmon.db"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": str(db)}, "backfill": {"days": 2}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitoring", "--config", str(config), "backfill",
         "--end", END, "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        before: dict = {}
        while time.monotonic() < deadline:
            time.sleep(0.5)
            assert proc.poll() is None, proc.stderr.read().decode()
            if db.exists():
                before = _snapshot(db)
                if sum(len(ts) for ts, _ in before.values()) > 25 * 200:
                    break
        assert before, "the backfill committed nothing in time"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    store = SQLiteStore(db)
    [run] = store.partial_backfills()  # the killed run reads as partial, with its progress
    store.close()
    assert run.start < run.done_until < run.end
    after = _snapshot(db)
    committed = sum(len(ts) for ts, _ in before.values())
    assert committed > 0
    for series, (ts, values) in before.items():
        ts2, values2 = after[series]
        index = {t: v for t, v in zip(ts2.tolist(), values2.tolist(), strict=True)}
        missing = [t for t in ts.tolist() if t not in index]
        assert not missing, f"{series}: {len(missing)} committed samples lost"
        assert np.allclose([index[t] for t in ts.tolist()], values, equal_nan=True)
