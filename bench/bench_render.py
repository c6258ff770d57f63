"""Render benchmark: read the five dashboards' data from a week-long store, render all formats.

Uses data/ionmon.db when it holds the last week, else builds a synthetic store of the 25
catalog metrics × 7 days at one-minute resolution. Prints median times over a few runs.

    python bench/bench_render.py [--store PATH] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboards.data import build_dashboard_data
from dashboards.definitions import DASHBOARDS
from monitoring.store.sqlite import SQLiteStore
from renderers import FORMATS
from renderers.formats import renderer

HTML_TARGET_S = 0.200
WEEK = 7 * 86400
STEP = 60.0


def _store(path: str | None, tmp: Path) -> tuple[SQLiteStore, float, str]:
    if path and Path(path).exists():
        store = SQLiteStore(path)
        ts = store.read("request_rate", 0, time.time() + 365 * 86400).ts
        if len(ts):
            return store, float(ts[-1]), f"{path} (recorded)"
        store.close()
    from tests.dashboards.synth import END, fill
    store = SQLiteStore(tmp / "bench.db")
    t0 = time.perf_counter()
    fill(store, days=7, end=END)
    print(f"built synthetic store: 25 metrics × 7 days × 1 min in "
          f"{time.perf_counter() - t0:.1f} s")
    return store, END, "synthetic"


def _median(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="data/ionmon.db")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store, end, source = _store(args.store, Path(tmp))
        start = end - WEEK
        dashes = list(DASHBOARDS.values())

        def read() -> list[dict]:
            return [store.read_many(list(d.metric_ids), start, end, STEP) for d in dashes]

        read_s, series = _median(read, args.runs)

        def summarise() -> list:
            return [build_dashboard_data(d, s, start, end, step=STEP)
                    for d, s in zip(dashes, series, strict=True)]  # type: ignore[arg-type]

        summary_s, datas = _median(summarise, args.runs)
        render_s = {}
        sizes = {}
        for fmt in FORMATS:
            fn = renderer(fmt)
            render_s[fmt], outs = _median(lambda fn=fn: [fn(d) for d in datas], args.runs)
            sizes[fmt] = sum(len(o) for o in outs)  # type: ignore[union-attr]
        store.close()

    points = 25 * (WEEK / STEP + 1)
    print(f"source: {source}; range 7d at {STEP:g}s steps (~{points:,.0f} points); "
          f"median of {args.runs} runs")
    print(f"{'store read (5 dashboards, read_many)':<44} {read_s * 1000:8.1f} ms")
    print(f"{'summarise (stats, status, downsample)':<44} {summary_s * 1000:8.1f} ms")
    for fmt in FORMATS:
        print(f"{'render ' + fmt + ' (5 dashboards)':<44} {render_s[fmt] * 1000:8.1f} ms"
              f"   {sizes[fmt] / 1024:7.0f} KiB")
    html = render_s["html"]
    print(f"{'ratio HTML set render / store read':<44} {html / read_s:8.2f}")
    verdict = "MET" if html <= HTML_TARGET_S else "NOT MET"
    print(f"target: HTML set ≤ {HTML_TARGET_S * 1000:.0f} ms → {html * 1000:.1f} ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
