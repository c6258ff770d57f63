"""Tuning the nine rules on a week of 1-minute data and scoring them in sample and on a
held-out week, against reading that week.

    python bench/bench_tune.py [--db data/ionmon.db] [--heldout other.db]

Without a store holding a week (or with --synthetic), a synthetic week is written
to a temporary store first, so both timings always come from the same data; without
--heldout, the held-out week is a synthetic week of another seed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.baseline import History, read_history
from alerts.retune import score_weeks
from alerts.rules import RULE_SPECS
from alerts.tuner import tune
from monitoring.app.config import Config
from monitoring.groundtruth import FaultLog
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore

TARGET_S = 1.0
WEEK_S = 7 * 86400
# UTC and the default regions' offsets, as `ionmon tune` passes them: a weekend is
# tried on each clock.
WEEKEND_CLOCKS = Config().weekend_clocks


def _synthetic_store(path: Path, seed: int = 7) -> None:
    from tests.alerts.synth import week

    ts, values, faults = week(seed=seed)
    store = SQLiteStore(path)
    for i in range(0, len(ts), 1440):
        store.write(Point(m, float(t), float(v[j])) for m, v in values.items()
                    for j, t in enumerate(ts[i:i + 1440], start=i))
    store.close()
    log = FaultLog(path)
    for f in faults:
        log.record(f)
    log.close()


def _newest_week(db: Path, metrics: list[str]) -> History:
    store, faults = SQLiteStore(db), FaultLog(db)
    try:
        end = max(float(s.ts[-1]) for m in metrics if len(s := store.read(m, 0, 4e9)) > 0)
        return read_history(store, metrics, end - WEEK_S, end, faults, step=60.0)
    finally:
        store.close()
        faults.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="data/ionmon.db")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--heldout", default=None, help="A store holding the held-out week.")
    args = ap.parse_args()
    metrics = sorted({m for s in RULE_SPECS for m in s.metrics})
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db)
        store = SQLiteStore(db) if db.exists() and not args.synthetic else None
        end = 0.0
        synthetic = store is None
        if store is not None:
            end = max((float(s.ts[-1]) for m in metrics
                       if len(s := store.read(m, 0, 4e9)) > 0), default=0.0)
            if end == 0.0:
                store.close()
                store, synthetic = None, True
        if store is None:
            db = Path(tmp) / "ionmon.db"
            _synthetic_store(db)
            store = SQLiteStore(db)
            end = max(float(store.read(m, 0, 4e9).ts[-1]) for m in metrics)
        faults = FaultLog(db)
        held_db = Path(args.heldout) if args.heldout else Path(tmp) / "heldout.db"
        if not args.heldout:
            _synthetic_store(held_db, seed=8)
        held = _newest_week(held_db, metrics)
        t0 = time.perf_counter()
        history = read_history(store, metrics, end - WEEK_S, end, faults, step=60.0)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        proposals = tune(RULE_SPECS, history.ts, history.values, history.faults,
                         weekend_clocks=WEEKEND_CLOCKS)
        scored = score_weeks(proposals, history, held)
        t_tune = time.perf_counter() - t0
        store.close()
        faults.close()
    samples = sum(int((v == v).sum()) for v in history.values.values())
    print(f"data      {'synthetic week' if synthetic else db}: "
          f"{len(metrics)} metrics, {samples} samples, {len(history.faults)} faults")
    print(f"read      {t_read:8.3f} s  (store -> 1-minute grid)")
    print(f"held out  {held_db if args.heldout else 'synthetic week (seed 8)'}: "
          f"{len(held.faults)} faults, "
          f"{sum(s.held_out is not None for s in scored)} rules scored")
    print(f"tune      {t_tune:8.3f} s  ({len(proposals)} rules x k grid, fit + back-test, "
          "scored in sample and held out)")
    print(f"ratio     {t_tune / t_read:8.2f}  (tune / read)")
    met = t_tune <= TARGET_S
    print(f"target    tuning <= {TARGET_S:g} s: {'MET' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
