"""A damaged store makes every command say ``error: ...`` (the file and what is wrong)
and exit 1, never a traceback; a backfill that did not finish is named by ``query`` and
``tune``. Once, ``query``/``alerts``/``backfill`` printed a StoreError as a traceback
and a backfill killed halfway looked complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from monitoring.store.base import Point
from monitoring.store.sqlite import BLOCK_S, SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
DAY0 = 1_700_000_000 // BLOCK_S * BLOCK_S
METRICS = ("request_rate", "availability", "error_rate", "latency_p95", "cache_hit_rate")


def _fill(path: Path, days: int = 3) -> None:
    store = SQLiteStore(path)
    try:
        for day in range(days):
            ts = DAY0 + day * BLOCK_S + np.arange(0, BLOCK_S, 300.0)
            store.write([Point(m, float(t), 50.0 + i) for i, t in enumerate(ts)
                         for m in METRICS])
        store.seal_all()
    finally:
        store.close()


def _ionmon(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "monitoring", "--config",
                           str(tmp / "config.yaml"), *args], capture_output=True, text=True,
                          timeout=120, cwd=tmp, env=env)


def _config(tmp: Path) -> Path:
    db = tmp / "ionmon.db"
    (tmp / "config.yaml").write_text(yaml.safe_dump({
        "store": {"path": str(db)},
        "alerts": {"state_path": str(tmp / "alerts.db")},
        "output_dir": str(tmp / "out"),
        "backfill": {"days": 1},
    }))
    return db


END = str(int(DAY0 + 3 * BLOCK_S))


@pytest.mark.parametrize("command", [
    ["query", "request_rate", "--end", END, "--range", "2d"],
    ["alerts", "--evaluate", "--at", END],
    ["tune", "--end", END, "--baseline", "2d"],
    ["dashboard", "overview"],
    ["report"],
    ["backfill", "--days", "1", "--no-progress"],
])
def test_a_damaged_store_is_one_error_line(tmp_path, command):
    db = _config(tmp_path)
    _fill(db)
    size = db.stat().st_size
    with db.open("r+b") as fh:  # 4 KB of garbage mid-file
        fh.seek(size // 2 // 4096 * 4096)
        fh.write(np.random.default_rng(1).bytes(4096))
    proc = _ionmon(tmp_path, *command)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert str(db) in proc.stderr, proc.stderr


def test_query_and_tune_name_a_partial_backfill(tmp_path):
    db = _config(tmp_path)
    _fill(db)
    store = SQLiteStore(db)
    try:  # a backfill of the three days that got through the first one only
        run = store.begin_backfill(DAY0, DAY0 + 3 * BLOCK_S)
        store.write_backfill(run, [], DAY0 + BLOCK_S)
    finally:
        store.close()
    for command in (["query", "request_rate", "--end", END, "--range", "2d"],
                    ["tune", "--end", END, "--baseline", "2d"]):
        proc = _ionmon(tmp_path, *command)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "is partial: filled up to" in proc.stderr, (command, proc.stderr)
        assert "run 'ionmon backfill' to resume it" in proc.stderr
