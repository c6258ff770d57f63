"""Store benchmark: the embedded store against a real Prometheus, in the same run.

Data: the 25 catalog series × 7 days at one-minute resolution, noisy values (a daily
wave plus Gaussian noise: every float differs in most of its mantissa, the hard case
for compression). The same points go into the embedded store (write batches of 30
minutes, as backfill commits them) and, as OpenMetrics through promtool, into a
Prometheus started on a free loopback port; there each metric is a stored series, so
both stores answer from stored data alone.

Query: every dashboard's metrics (``dashboards.definitions.DASHBOARDS``) over the 7 days
at a one-minute step into numpy arrays: ``read_many`` on the embedded store,
``PrometheusStore.read_many`` (``/api/v1/query_range`` per metric, JSON into arrays)
on Prometheus. Median of --runs runs; the raw HTTP bodies alone are timed too.

Targets: embedded <= 0.5 × Prometheus (arrays to arrays); <= 8 bytes per sample on disk.

    python bench/bench_store.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.base import Sample
from dashboards.definitions import DASHBOARDS
from monitoring.app.promconfig import create_blocks
from monitoring.catalog import CATALOG
from monitoring.openmetrics import OpenMetricsRecorder
from monitoring.store.base import Point
from monitoring.store.prometheus import PrometheusStore
from monitoring.store.sqlite import SQLiteStore
from tests.servers import PrometheusServer, require_binary

DAYS = 7
STEP = 60.0
BATCH = 30  # minutes of points per commit
SPEED_TARGET = 0.5
BYTES_TARGET = 8.0
SERIES = "ionmon_metric"


class _Prometheus(PrometheusServer):
    def _flags(self) -> list[str]:
        return [*super()._flags(), "--storage.tsdb.retention.time=3650d"]


def _data(end: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    ts = np.arange(end - DAYS * 86400 + STEP, end + STEP / 2, STEP)
    wave = np.sin(2 * np.pi * (ts % 86400) / 86400)
    values = {}
    for i, mid in enumerate(CATALOG):
        base = 10.0 * (i + 1)
        values[mid] = base * (1 + 0.3 * wave) + rng.normal(0, base * 0.05, len(ts))
    return ts, values


def _ingest(store: SQLiteStore, ts: np.ndarray, values: dict[str, np.ndarray]) -> float:
    began = time.perf_counter()
    for lo in range(0, len(ts), BATCH):
        store.write([Point(mid, float(t), float(v)) for mid, series in values.items()
                     for t, v in zip(ts[lo:lo + BATCH], series[lo:lo + BATCH], strict=True)])
    store.seal_all()
    return time.perf_counter() - began


def _median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    require_binary("prometheus")
    end = np.floor(time.time() / STEP) * STEP
    ts, values = _data(end)
    samples = len(ts) * len(values)
    start = float(ts[0])
    queries = [list(d.metric_ids) for d in DASHBOARDS.values()]
    print(f"data: {len(values)} series × {DAYS} days × 1 min = {samples:,} samples; "
          f"{len(queries)} dashboards, {sum(map(len, queries))} metric reads per pass")

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        store = SQLiteStore(tmp_path / "bench.db")
        ingest_s = _ingest(store, ts, values)
        stats = store.stats()
        per_sample = stats["bytes"] / stats["samples"]

        recorder = OpenMetricsRecorder()
        for mid, series in values.items():
            recorder.add_samples(Sample(SERIES, {"id": mid}, float(v), float(t))
                                 for t, v in zip(ts, series, strict=True))
        export = tmp_path / "bench.om"
        with export.open("w") as fh:
            recorder.write(fh)
        server = _Prometheus("global: {scrape_interval: 1m}\n")
        try:
            create_blocks(export, server.dir / "tsdb")
            server.start()
            prom = PrometheusStore(server.url, step_s=STEP, clock=lambda: end,
                                   queries={m: f'{SERIES}{{id="{m}"}}' for m in CATALOG})

            def embedded() -> None:
                for ids in queries:
                    store.read_many(ids, start, end, STEP)

            def prometheus() -> None:
                for ids in queries:
                    prom.read_many(ids, start, end, STEP)

            def bodies() -> None:
                with requests.Session() as s:
                    for ids in queries:
                        for m in ids:
                            body = s.get(f"{server.url}/api/v1/query_range", params={
                                "query": prom.queries[m], "start": start - 300, "end": end,
                                "step": STEP}).content
                            assert body.startswith(b'{"status":"success"'), body[:200]

            # Same answers first, then time them.
            for ids in queries:
                a, b = store.read_many(ids, start, end, STEP), prom.read_many(ids, start, end, STEP)
                for m in ids:
                    assert np.array_equal(a[m].values, b[m].values, equal_nan=True), m
            prometheus()  # warm both caches once
            embedded()
            t_emb = _median(embedded, args.runs)
            t_prom = _median(prometheus, args.runs)
            t_body = _median(bodies, args.runs)
            prom.close()
        finally:
            server.close()
            store.close()

    ratio = t_emb / t_prom
    print(f"embedded store:  {t_emb * 1000:8.1f} ms  (5 dashboards, 7 days, arrays)")
    print(f"Prometheus:      {t_prom * 1000:8.1f} ms  (query_range into arrays; "
          f"raw HTTP bodies alone {t_body * 1000:.1f} ms)")
    print(f"ratio embedded/Prometheus: {ratio:.2f}  target <= {SPEED_TARGET}: "
          f"{'MET' if ratio <= SPEED_TARGET else 'NOT MET'}")
    print(f"ingest: {samples / ingest_s:,.0f} samples/s into the embedded store "
          f"({ingest_s:.2f} s, batches of {BATCH} minutes, crash-safe commits)")
    print(f"disk: {per_sample:.2f} bytes/sample ({stats['bytes']:,} bytes)  "
          f"target <= {BYTES_TARGET:g}: {'MET' if per_sample <= BYTES_TARGET else 'NOT MET'}")


if __name__ == "__main__":
    main()
