"""Backfill speed: virtual seconds modelled per wall second.

Target: a 7-day week in at most 45 s of wall time, i.e. at least 13,440 virtual
seconds per wall second. Runs a shorter span (default 1 day) and extrapolates the
week from the measured rate; pass --days 7 to run the whole week.

The backfill runs in two processes (the engine, and derivation with the store
writes); the CPU time each spent is printed beside the wall time, since on a shared
machine the wall time also says how much of the two cores the run was given.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from monitoring.app.backfill import run_backfill
from monitoring.app.config import load_config
from monitoring.groundtruth import FaultLog
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import week_start

TARGET_S = 45
TARGET_VIRTUAL_PER_WALL = 7 * 86400 / TARGET_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--config", default="config.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store, faults = SQLiteStore(path), FaultLog(path)
        start = week_start(time.time()) - 7 * 86400
        began = time.perf_counter()
        summary = run_backfill(config, store, faults, start, args.days)
        wall = time.perf_counter() - began
        stats = store.stats()
    own, engine = (resource.getrusage(who) for who in
                   (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    virtual = summary.cycles * summary.step_s
    ratio = virtual / wall
    print(f"modelled {args.days} day(s): {summary.cycles} scrapes, {summary.requests:,} "
          f"requests, {summary.points:,} points in {wall:.2f} s wall")
    print(f"virtual seconds per wall second: {ratio:,.0f}  "
          f"(a week would take {7 * 86400 / ratio:.1f} s)")
    print(f"cpu: engine process {engine.ru_utime + engine.ru_stime:.2f} s, derivation and "
          f"store {own.ru_utime + own.ru_stime:.2f} s; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"store: {stats['bytes'] / max(stats['samples'], 1):.2f} bytes/sample")
    met = ratio >= TARGET_VIRTUAL_PER_WALL
    print(f"target: >= {TARGET_VIRTUAL_PER_WALL:,.0f} virtual s per wall s "
          f"(a week in <= {TARGET_S} s): {'MET' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
