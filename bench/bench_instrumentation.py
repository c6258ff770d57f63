"""Instrumentation overhead: the same seeded request mix with metrics on and off.

Two pairs of clusters (identical but for ``metrics_enabled``) replay the same
requests in alternating rounds, so all see the same cache and database states;
requests/s is compared round by round. The pairs are built in opposite orders (on,
off, then off, on): a cluster built first runs a few percent slower than an
identical one built after it, and the two pairs' ratios carry that bias in
opposite directions, so their geometric mean cancels it. Target: on/off >= 0.97.

Run: python bench/bench_instrumentation.py [--rounds N] [--requests N]
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.clock import ManualClock
from engine.cluster import Cluster
from engine.config import EngineConfig
from engine.traffic import Request, TrafficModel

TARGET = 0.97
START = 1_700_006_400.0  # a Wednesday, 00:00 UTC: the day's full shape follows


def replay(cluster: Cluster, clock: ManualClock, requests: list[Request]) -> float:
    """Requests per second of wall time for one pass."""
    request = cluster.request
    t0 = time.perf_counter()
    for r in requests:
        if r.ts > clock.now():
            clock.advance(r.ts - clock.now())
        request(r.region, r.method, r.path, r.body)
    return len(requests) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=6000, help="requests per round")
    args = parser.parse_args(argv)

    model = TrafficModel(EngineConfig())
    # Mid-day traffic (peak hours) in consecutive windows, one per round.
    pool = model.requests_for(START + 10 * 3600, START + 22 * 3600)
    need = args.rounds * args.requests + args.requests
    while len(pool) < need:
        pool += model.requests_for(START + 86_400 + 10 * 3600, START + 86_400 + 22 * 3600)
    warmup, rounds = pool[:args.requests], [
        pool[args.requests * (i + 1): args.requests * (i + 2)] for i in range(args.rounds)]

    # (pair, metrics on?) in build order: on then off, then off then on.
    keys = [(0, True), (0, False), (1, False), (1, True)]
    clocks = {k: ManualClock(START) for k in keys}
    clusters: dict[tuple[int, bool], Cluster] = {}
    try:
        for k in keys:
            clusters[k] = Cluster(EngineConfig(metrics_enabled=k[1]), clocks[k])
        for k in keys:
            replay(clusters[k], clocks[k], warmup)
        rates: dict[tuple[int, bool], list[float]] = {k: [] for k in keys}
        for i, batch in enumerate(rounds):
            # Alternate which goes first so drift (CPU boost, GC) hits all equally.
            for k in (keys if i % 2 == 0 else keys[::-1]):
                gc.collect()
                rates[k].append(replay(clusters[k], clocks[k], batch))
    finally:
        for c in clusters.values():
            c.close()

    on_rates = [math.sqrt(a * b) for a, b in zip(rates[0, True], rates[1, True], strict=True)]
    off_rates = [math.sqrt(a * b) for a, b in zip(rates[0, False], rates[1, False],
                                                   strict=True)]
    rates_by_flag = {True: on_rates, False: off_rates}
    on, off = statistics.median(on_rates), statistics.median(off_rates)
    # Rounds are paired (same requests, back to back): the median of the
    # per-round ratios is robust to the machine speeding up or slowing down.
    pair_ratios = [[a / b for a, b in zip(rates[p, True], rates[p, False], strict=True)]
                   for p in (0, 1)]
    ratio = statistics.median(math.sqrt(a * b) for a, b in zip(*pair_ratios, strict=True))
    print(f"rounds: {args.rounds} x {args.requests} requests (same seeded mix)")
    print(f"metrics on : {on:10.0f} requests/s (median; rounds: "
          f"{', '.join(f'{r:.0f}' for r in rates_by_flag[True])})")
    print(f"metrics off: {off:10.0f} requests/s (median; rounds: "
          f"{', '.join(f'{r:.0f}' for r in rates_by_flag[False])})")
    print(f"per pair on/off: built on first {statistics.median(pair_ratios[0]):.3f}, "
          f"built off first {statistics.median(pair_ratios[1]):.3f}")
    print(f"ratio on/off: {ratio:.3f} (median of per-round ratios)   target: >= {TARGET:.2f}   "
          f"{'MET' if ratio >= TARGET else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
