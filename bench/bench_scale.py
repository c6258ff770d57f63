"""Scale: how the embedded platform grows with targets (4 -> 40 -> 400) and history (7 -> 28 days).

Targets: the engine runs 1, 13 and 133 instances per region (with the edge 4, 40 and
400 targets), each instance under the same load (the modelled traffic is scaled by
the instances per region). Each size runs in a process of its own (so its peak memory
is its own) and is measured over a short window of scrape cycles at a weekday's
peak: collect (every target's registry), derive (the catalog from the snapshot) and
store (the cycle's points into the embedded store), each the median over the window.
Peak memory is the whole process, the engine's instances included; the share
scraping adds is the peak less the size once the engine was built. Only the
per-cycle time is extrapolated: a log-log fit gives its exponent and the
number of targets at which one cycle takes the whole scrape interval.

History: a day backfilled with the real engine is written again day after day into a
7-day and a 28-day store (the measured day repeated, shifted by whole days); on each,
bytes per sample, reading and rendering the five dashboards over the whole range,
and tuning every rule over it.

    python bench/bench_scale.py [--cycles 8] [--sizes 1,13,133]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from alerts.baseline import read_history
from alerts.rules import RULE_SPECS
from alerts.tuner import tune
from collectors.base import Collector
from collectors.registry import RegistryCollector
from collectors.relabel import TargetLabels
from dashboards.data import build_dashboard_data
from dashboards.definitions import DASHBOARDS
from engine.cluster import Cluster
from engine.traffic import TrafficModel
from monitoring.app.backfill import _serve, run_backfill
from monitoring.app.config import Config, load_config
from monitoring.catalog import RECORDED
from monitoring.clock import VirtualClock
from monitoring.expr import Snapshot
from monitoring.groundtruth import FaultLog, FaultRecord
from monitoring.scrape import Scraper, TargetHealth
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import week_start
from renderers import FORMATS
from renderers.formats import renderer

DAY = 86400.0
TARGET_RUN_S = 600  # the whole benchmark


@dataclass(frozen=True)
class SizeResult:
    targets: int
    series: int  # samples per scrape cycle
    requests_per_cycle: float
    build_s: float
    collect_s: float
    derive_s: float
    store_s: float
    peak_rss_mb: float
    engine_rss_mb: float  # the process once the engine's instances were built

    @property
    def cycle_s(self) -> float:
        return self.collect_s + self.derive_s + self.store_s


def _scaled(config: Config, per_region: int) -> Config:
    engine = config.engine
    regions = {n: r.model_copy(update={"instances": per_region})
               for n, r in engine.regions.items()}
    traffic = engine.traffic.model_copy(update={
        "peak_requests_per_minute": engine.traffic.peak_requests_per_minute * per_region})
    return config.model_copy(update={"engine": engine.model_copy(
        update={"regions": regions, "traffic": traffic})})


def _collectors(cluster: Cluster, clock: VirtualClock) -> list[Collector]:
    """As the backfill scrapes: the edge, then every instance labelled with its region."""
    registries = cluster.registries
    out: list[Collector] = [RegistryCollector("edge", lambda: registries().get("edge"), clock)]
    for target, region in cluster.config.instance_regions().items():
        collector = RegistryCollector(target, (lambda t=target: registries().get(t)), clock)
        out.append(collector if target == region else TargetLabels(
            collector, {"target": region, "instance": target}))
    return out


def _measure_size(config: Config, per_region: int, cycles: int, tmp: str) -> SizeResult:
    config = _scaled(config, per_region)
    step = config.scrape.interval
    # A weekday's busiest hour: Wednesday 15:00 UTC, when the regions overlap most.
    t0 = week_start(time.time()) - 7 * DAY + 2 * DAY + 15 * 3600
    clock = VirtualClock(t0)
    began = time.perf_counter()
    cluster = Cluster(config.engine, clock)
    build_s = time.perf_counter() - began
    engine_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    traffic = TrafficModel(config.engine)
    store = SQLiteStore(Path(tmp) / f"scale-{per_region}.db")
    collectors = _collectors(cluster, clock)
    scraper = Scraper([], window_scrapes=config.scrape.window_scrapes)
    collect, derive, write, series, served = [], [], [], 0, 0
    try:
        for i in range(config.scrape.window_scrapes + cycles):
            # The interval's requests, as the backfill serves them (not timed).
            reqs = _serve(cluster, traffic, clock, t0 + i * step, step)
            a = time.perf_counter()
            results = [c.collect() for c in collectors]
            b = time.perf_counter()
            snapshot = Snapshot(clock.now(), chain.from_iterable(r.samples for r in results),
                                stale=chain.from_iterable(r.stale for r in results))
            result = scraper.derive(snapshot, tuple(TargetHealth.of(r) for r in results))
            c = time.perf_counter()
            store.write(result.points())
            d = time.perf_counter()
            if i >= config.scrape.window_scrapes:  # the window is primed: a full cycle
                collect.append(b - a)
                derive.append(c - b)
                write.append(d - c)
                series = sum(len(r.samples) for r in results)
                served += reqs
    finally:
        store.close()
        cluster.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return SizeResult(len(collectors), series, served / cycles, build_s,
                      statistics.median(collect), statistics.median(derive),
                      statistics.median(write), peak_kib / 1024, engine_kib / 1024)


def _size_process(config_path: str, per_region: int, cycles: int, tmp: str,
                  out: multiprocessing.queues.Queue) -> None:
    out.put(_measure_size(load_config(config_path), per_region, cycles, tmp))


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """``y = a * x ** b`` by least squares on the logs: (a, b)."""
    b, log_a = np.polyfit(np.log(xs), np.log(ys), 1)
    return float(math.exp(log_a)), float(b)


def _growth(name: str, xs: list[float], ys: list[float], unit: str, scale: float = 1.0) -> str:
    _, b = _fit(xs, ys)
    ratios = " -> ".join(f"{y * scale:.4g}" for y in ys)
    steps = ", ".join(f"x{ys[i + 1] / ys[i]:.2f}" for i in range(len(ys) - 1))
    return f"{name:<28} {ratios} {unit}   ratios {steps}   exponent {b:.2f}"


# -- history --------------------------------------------------------------------------

def _history_store(path: Path, day: dict[str, tuple[np.ndarray, np.ndarray]],
                   faults: list[FaultRecord], day_start: float, start: float,
                   days: int) -> None:
    store, log = SQLiteStore(path), FaultLog(path)
    for k in range(days):  # the day itself last, the copies before it
        shift = start - day_start + k * DAY
        store.write(Point(mid, float(t) + shift, float(v)) for mid, (ts, vs) in day.items()
                    for t, v in zip(ts, vs, strict=True))
        for f in faults:
            log.record(FaultRecord(f.kind, f.target, f.start + shift, f.end + shift, f.params))
    store.seal_all()
    store.close()
    log.close()


def _history_figures(path: Path, start: float, days: int, step: float) -> dict[str, float]:
    store, log = SQLiteStore(path), FaultLog(path)
    end = start + days * DAY
    try:
        stats = store.stats()
        a = time.perf_counter()
        dashes = list(DASHBOARDS.values())
        datas = [build_dashboard_data(d, store.read_many(list(d.metric_ids), start, end, step),
                                      start, end, step=step) for d in dashes]
        for fmt in FORMATS:
            fn = renderer(fmt)
            for data in datas:
                fn(data)
        b = time.perf_counter()
        metrics = sorted({m for s in RULE_SPECS for m in s.metrics})
        history = read_history(store, metrics, start, end, log, step=step)
        tune(RULE_SPECS, history.ts, history.values, history.faults)
        c = time.perf_counter()
    finally:
        store.close()
        log.close()
    return {"bytes_per_sample": stats["bytes"] / max(stats["samples"], 1),
            "render_s": b - a, "tune_s": c - b}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--cycles", type=int, default=8, help="measured scrape cycles per size")
    ap.add_argument("--sizes", default="1,13,133", help="instances per region")
    args = ap.parse_args()
    began = time.perf_counter()
    config = load_config(args.config)
    step = config.scrape.interval
    sizes = [int(s) for s in args.sizes.split(",")]
    context = multiprocessing.get_context("spawn")
    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        for per_region in sizes:
            queue = context.Queue()
            process = context.Process(target=_size_process,
                                      args=(args.config, per_region, args.cycles, tmp, queue))
            process.start()
            results.append(queue.get())
            process.join()
            r = results[-1]
            print(f"{r.targets:>4} targets: {r.series:,} samples/cycle, "
                  f"{r.requests_per_cycle:,.0f} requests/cycle, engine built in "
                  f"{r.build_s:.1f} s; cycle {r.cycle_s * 1000:.1f} ms (collect "
                  f"{r.collect_s * 1000:.1f}, derive {r.derive_s * 1000:.1f}, store "
                  f"{r.store_s * 1000:.1f}); peak RSS {r.peak_rss_mb:.0f} MB "
                  f"({r.engine_rss_mb:.0f} MB once the engine was built)", flush=True)

        # History: one real day, written again for a week and for four.
        path = Path(tmp) / "day.db"
        store, log = SQLiteStore(path), FaultLog(path)
        day_start = week_start(time.time()) - 7 * DAY
        run_backfill(config, store, log, day_start, 1)
        got = store.read_many(list(RECORDED), day_start, day_start + DAY)
        day = {mid: (s.ts, s.values) for mid, s in got.items() if len(s)}
        faults = log.between(day_start, day_start + DAY)
        store.close()
        log.close()
        history = {}
        for days in (7, 28):
            hist_path = Path(tmp) / f"history-{days}.db"
            start = day_start - (days - 1) * DAY
            _history_store(hist_path, day, faults, day_start, start, days)
            history[days] = _history_figures(hist_path, start, days, step)
            print(f"{days:>4} days: {history[days]['bytes_per_sample']:.2f} bytes/sample, "
                  f"dashboards read + render {history[days]['render_s']:.2f} s, "
                  f"tune {history[days]['tune_s']:.2f} s", flush=True)

    targets = [float(r.targets) for r in results]
    print("\ngrowth with targets (" + " -> ".join(f"{t:.0f}" for t in targets) + "):")
    print(_growth("scrape cycle", targets, [r.cycle_s for r in results], "ms", 1000))
    print(_growth("  collect", targets, [r.collect_s for r in results], "ms", 1000))
    print(_growth("  derive", targets, [r.derive_s for r in results], "ms", 1000))
    print(_growth("  store", targets, [r.store_s for r in results], "ms", 1000))
    print(_growth("samples per cycle", targets, [float(r.series) for r in results], ""))
    print(_growth("peak memory", targets, [r.peak_rss_mb for r in results], "MB"))
    # At the smallest size the imports' peak hides it: shown, not fitted.
    print(f"{'  above the built engine':<28} " + " -> ".join(
        f"{r.peak_rss_mb - r.engine_rss_mb:.0f}" for r in results) + " MB")
    days_x = [7.0, 28.0]
    print("\ngrowth with history (7 -> 28 days; one backfilled day repeated):")
    for key, unit, scale in (("bytes_per_sample", "bytes", 1.0), ("render_s", "s", 1.0),
                             ("tune_s", "s", 1.0)):
        print(_growth(key.replace("_", " "), days_x, [history[d][key] for d in (7, 28)],
                      unit, scale))

    a, b = _fit(targets, [r.cycle_s for r in results])
    limit = (step / a) ** (1 / b) if b > 0 else math.inf
    print(f"\nlimit: one scrape cycle (collect + derive + store) fills the {step:g} s "
          f"scrape interval at about {limit:,.0f} targets (fit t = {a:.3g} s * "
          f"n^{b:.2f}, extrapolated past {targets[-1]:.0f}; only the cycle time is "
          f"extrapolated); at {targets[-1]:.0f} targets a cycle takes "
          f"{results[-1].cycle_s / step:.1%} of the interval")
    wall = time.perf_counter() - began
    load = os.getloadavg()[0]
    met = wall < TARGET_RUN_S
    print(f"run time {wall:.0f} s (load average {load:.2f} on {os.cpu_count()} cores); "
          f"target < {TARGET_RUN_S} s: {'MET' if met else 'NOT MET'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
