"""After a backfill, ``serve`` carries the same store on, warm: in its first minute the
overview, in a real browser, shows no NO DATA and no BREACH card on a fault-free config."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from monitoring.app.backfill import newest_sample, prepare_range, run_backfill
from monitoring.app.config import parse_config
from monitoring.catalog import CATALOG
from monitoring.groundtruth import FaultLog
from monitoring.store.sqlite import SQLiteStore
from tests.renderers.cdp import Browser, chromium_or_skip

BACKFILL_S = 2 * 3600.0


@pytest.mark.slow
def test_serve_after_a_backfill_opens_on_data_and_no_false_breach(tmp_path: Path):
    chromium = chromium_or_skip()
    raw = {
        "store": {"path": str(tmp_path / "ionmon.db")},
        "alerts": {"state_path": str(tmp_path / "alerts.db"),
                   "rules_path": str(tmp_path / "rules.yaml")},
        "backfill": {"warmup": "30m", "faults": []},
        "output_dir": str(tmp_path / "out"),
    }
    config = parse_config(raw)
    end = math.floor(time.time() / 60) * 60
    start = end - BACKFILL_S
    store, faults = SQLiteStore(config.store.path, retention_s=None), FaultLog(config.store.path)
    try:
        assert prepare_range(store, faults, start, end, replace=False)
        run_backfill(config, store, faults, start, 0, end=end)
    finally:
        store.close()
        faults.close()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw))
    time.sleep(max(0.0, end + 61 - time.time()))  # a minute passes: serve has one to fill
    serve_minute = math.floor(time.time() / 60) * 60
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitoring", "--config", str(tmp_path / "config.yaml"),
         "serve", "--port", "0", "--duration", "2m"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path, text=True)
    try:
        lines = []
        port = None
        while port is None:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, "serve exited before serving:\n" + "".join(lines)
            lines.append(line)
            if m := re.search(r"serving dashboards on http://127\.0\.0\.1:(\d+)/", line):
                port = int(m.group(1))
        began = time.monotonic()
        assert any("carrying the backfill on" in ln for ln in lines), "".join(lines)
        with Browser(chromium) as browser:
            browser.load(f"http://127.0.0.1:{port}/d/overview")
            cards = browser.evaluate(
                "[...document.querySelectorAll('article.panel[data-kind=stat]')]"
                ".map(e => [e.querySelector('.panel-title').textContent, e.dataset.status])")
        assert time.monotonic() - began < 60, "the page was not read in serve's first minute"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert len(cards) >= 6
    bad = [(title, status) for title, status in cards if status in ("nodata", "breach")]
    assert not bad, f"cards in NO DATA or BREACH at start: {bad}"
    # The store runs on without a gap: the minutes between the backfill and serve filled.
    store = SQLiteStore(config.store.path)
    try:
        newest = newest_sample(store, start, serve_minute)
        got = store.read_many(list(CATALOG), start, serve_minute)
    finally:
        store.close()
    assert newest == serve_minute
    minutes = np.unique(np.concatenate([s.ts for s in got.values()]))
    assert np.array_equal(minutes, start + 60.0 * np.arange(1, len(minutes) + 1))
