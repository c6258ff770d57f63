"""Render benchmark: read the five dashboards' data from a week-long store, render all formats.

Uses data/ionmon.db when it holds the last week, else builds a synthetic store of the 25
catalog metrics × 7 days at one-minute resolution. Charts carry markers: the faults the
store's fault log recorded (or, for the synthetic store, one of every kind spread over
the week) and an alert episode per rule. Prints median times over a few runs, then,
with Chromium installed, the live pages' weight and time to first render.

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

import functools
import http.server
import threading
from dataclasses import replace

from alerts.rules import RULE_SPECS
from dashboards.data import build_dashboard_data
from dashboards.definitions import DASHBOARDS
from dashboards.markers import Marker, fault_markers
from engine.faults import FAULT_KINDS
from monitoring.groundtruth import FaultRecord, open_faultlog
from monitoring.store.sqlite import SQLiteStore
from renderers import FORMATS
from renderers.formats import renderer
from renderers.html import LiveView, render_html

HTML_TARGET_S = 0.200
PAINT_RATIO_TARGET = 1.5  # the live page's script and data may not slow its first paint much
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


def _markers(path: str | None, start: float, end: float) -> tuple[tuple[Marker, ...], str]:
    log = open_faultlog(path) if path and Path(path).exists() else None
    faults = log.between(start, end) if log else []
    if log:
        log.close()
    source = f"{len(faults)} recorded faults"
    if not faults:
        gap = (end - start) / (len(FAULT_KINDS) + 1)
        faults = [FaultRecord(k, "us", start + gap * (i + 1), start + gap * (i + 1) + 1800)
                  for i, k in enumerate(FAULT_KINDS)]
        source = f"{len(faults)} faults, one of each kind"
    gap = (end - start) / (len(RULE_SPECS) + 1)
    alerts = [Marker("alert", r.id, r.metrics[0], start + gap * (i + 0.7),
                     start + gap * (i + 0.7) + 3600, r.metrics) for i, r in enumerate(RULE_SPECS)]
    return (*fault_markers(faults), *alerts), f"{source} and {len(alerts)} alert episodes"


# The first contentful paint once Chromium has recorded it: when it was painted
# (paintTime), or the rounded presentation time where the browser gives only that.
FIRST_PAINT = """new Promise(done => { const poll = () => {
  const e = performance.getEntriesByName('first-contentful-paint')[0];
  if (e) done(e.paintTime ?? e.startTime); else setTimeout(poll, 10); }; poll(); })"""


def _browser_figures(pages: dict[str, tuple[str, str]], rounds: int = 5
                     ) -> dict[str, tuple[int, float, float]]:
    """Per dashboard, (live page bytes, live and static first contentful paint in ms):
    medians over ``rounds``, the two pages loaded in turn so both see the same load."""
    from tests.renderers.cdp import Browser

    with tempfile.TemporaryDirectory() as root:
        for name, (live, static) in pages.items():
            Path(root, f"{name}.html").write_text(live, encoding="utf-8")
            Path(root, f"static-{name}.html").write_text(static, encoding="utf-8")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Quiet, directory=root))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"

        def paint(b: Browser, url: str) -> float:
            b.load(url)
            res = b.call("Runtime.evaluate", awaitPromise=True, returnByValue=True,
                         expression=FIRST_PAINT)
            return float(res["result"]["value"])

        out = {}
        try:
            with Browser() as b:
                paint(b, f"{base}/static-overview.html")  # the browser's first load warms it
                for name, (live, _) in pages.items():
                    lives, statics = [], []
                    for _ in range(rounds):
                        lives.append(paint(b, f"{base}/{name}.html"))
                        statics.append(paint(b, f"{base}/static-{name}.html"))
                    out[name] = (len(live.encode()), statistics.median(lives),
                                 statistics.median(statics))
        finally:
            server.shutdown()
            server.server_close()
    return out


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
        markers, marker_source = _markers(args.store, start, end)
        datas = [replace(d, markers=markers) for d in datas]  # type: ignore[arg-type]
        live = LiveView((("range", "7d"),), "7d")
        live_s, live_pages = _median(
            lambda: [render_html(d, link_pattern="/d/{name}", live=live) for d in datas],
            args.runs)
        render_s = {}
        sizes = {}
        for fmt in FORMATS:
            fn = renderer(fmt)
            render_s[fmt], outs = _median(lambda fn=fn: [fn(d) for d in datas], args.runs)
            sizes[fmt] = sum(len(o) for o in outs)  # type: ignore[union-attr]
        store.close()

    points = 25 * (WEEK / STEP + 1)
    print(f"source: {source}; range 7d at {STEP:g}s steps (~{points:,.0f} points); "
          f"median of {args.runs} runs; markers: {marker_source}")
    print(f"{'store read (5 dashboards, read_many)':<44} {read_s * 1000:8.1f} ms")
    print(f"{'summarise (stats, status, downsample)':<44} {summary_s * 1000:8.1f} ms")
    for fmt in FORMATS:
        print(f"{'render ' + fmt + ' (5 dashboards)':<44} {render_s[fmt] * 1000:8.1f} ms"
              f"   {sizes[fmt] / 1024:7.0f} KiB")
    live_kib = sum(len(p) for p in live_pages) / 1024  # type: ignore[union-attr]
    print(f"{'render live html (5 dashboards)':<44} {live_s * 1000:8.1f} ms   {live_kib:7.0f} KiB")
    html = render_s["html"]
    print(f"{'ratio HTML set render / store read':<44} {html / read_s:8.2f}")
    print(f"{'ratio live HTML set / static HTML set':<44} {live_s / html:8.2f}")
    verdict = "MET" if max(html, live_s) <= HTML_TARGET_S else "NOT MET"
    print(f"target: HTML set ≤ {HTML_TARGET_S * 1000:.0f} ms with markers → static "
          f"{html * 1000:.1f} ms, live {live_s * 1000:.1f} ms: {verdict}")
    if Path("/usr/bin/chromium").exists():
        figures = _browser_figures({d.name: (live_page, renderer("html")(d))
                                    for d, live_page in zip(datas, live_pages, strict=True)})  # type: ignore[arg-type]
        print("live pages in headless Chromium (size, first contentful paint, median of 5):")
        ratios = []
        for name, (size, live_ms, static_ms) in figures.items():
            ratios.append(live_ms / static_ms)
            print(f"  {name:<16} {size / 1024:6.0f} KiB   live {live_ms:5.0f} ms   "
                  f"static {static_ms:5.0f} ms   ratio {live_ms / static_ms:5.2f}")
        ratio = statistics.geometric_mean(ratios)
        verdict = "MET" if ratio <= PAINT_RATIO_TARGET else "NOT MET"
        print(f"target: live first paint ≤ {PAINT_RATIO_TARGET:g} × static (geometric mean "
              f"over the dashboards) → {ratio:.2f}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
