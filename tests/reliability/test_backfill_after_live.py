"""A backfill of a past week beside a live store seals only the range it wrote.

Once, a backfill sealed today's partial day that a live run had written, and a
restarted live run then failed every scrape until 00:00 UTC (10/10 scrapes failed).
"""

import subprocess
import sys
import time

import numpy as np
import yaml

from monitoring.clock import VirtualClock
from monitoring.store.base import Point
from monitoring.store.sqlite import BLOCK_S, SQLiteStore
from monitoring.timerange import fmt_ts, week_start
from tests.reliability.helpers import sealed_days, write_minutes

DAY0 = 1_780_000_000 // BLOCK_S * BLOCK_S
NOW = DAY0 + 10 * 3600.0
SERIES = ("availability", "error_rate")


def _scrape(t: float) -> list[Point]:
    return [Point(name, t, float(i)) for i, name in enumerate(SERIES)]


def test_backfill_of_a_past_week_leaves_todays_live_day_open(tmp_path):
    path = tmp_path / "ionmon.db"
    write_minutes(path, NOW, 3600, _scrape)
    start, end = DAY0 - 7 * BLOCK_S, DAY0 - 2 * BLOCK_S
    backfill = SQLiteStore(path, clock=VirtualClock(NOW))
    run = backfill.begin_backfill(start, end)
    for day in range(5):
        ts = start + day * BLOCK_S + np.arange(0, BLOCK_S, 600.0)
        backfill.write_backfill(run, [p for t in ts for p in _scrape(t)],
                                done_until=start + (day + 1) * BLOCK_S)
    backfill.finish_backfill(run)
    backfill.seal_all()  # even sealing "everything" keeps a day open until it is over
    backfill.close()
    assert sealed_days(path) == {start + d * BLOCK_S for d in range(5)}
    clock = VirtualClock(NOW + 60)
    restarted = SQLiteStore(path, clock=clock)
    for _ in range(10):
        assert restarted.write(_scrape(clock.now())).written == len(SERIES)
        clock.advance(60)
    today = restarted.read("availability", DAY0, NOW + 3600)
    assert len(today) == 61 + 10
    assert len(restarted.read("availability", start, end)) == 5 * 144


def test_real_backfill_after_live_writes_then_live_carries_on(tmp_path):
    path = tmp_path / "ionmon.db"
    now = time.time()
    live = SQLiteStore(path)
    for i in range(5):
        live.write(_scrape(now - 300 + i * 60))
    live.close()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": str(path)},
                                      "backfill": {"days": 1, "warmup": "10m"}}))
    end = week_start(now) - 7 * BLOCK_S  # a past week's Monday
    proc = subprocess.run(
        [sys.executable, "-m", "monitoring", "--config", str(config), "backfill", "--days", "1",
         "--end", fmt_ts(end)[:10], "--no-progress"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert now // BLOCK_S * BLOCK_S not in sealed_days(path)  # today is still open
    restarted = SQLiteStore(path)
    for i in range(10):
        assert restarted.write(_scrape(time.time() + i)).written == len(SERIES)
    assert len(restarted.read("availability", now - 600, time.time() + 60)) == 15
    [run] = restarted.backfill_status()
    assert run.complete and (run.start, run.end) == (end - BLOCK_S, end)
