"""Instrumentation overhead: the same seeded request mix with metrics on and off.

Two clusters (identical but for ``metrics_enabled``) replay the same requests in
alternating rounds, so both see the same cache and database states; requests/s
is compared round by round. Target: on/off >= 0.97.

Run: python bench/bench_instrumentation.py [--rounds N] [--requests N]
"""

from __future__ import annotations

import argparse
import gc
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

    clocks = {True: ManualClock(START), False: ManualClock(START)}
    clusters = {flag: Cluster(EngineConfig(metrics_enabled=flag), clocks[flag])
                for flag in (True, False)}
    try:
        for flag in (True, False):
            replay(clusters[flag], clocks[flag], warmup)
        rates: dict[bool, list[float]] = {True: [], False: []}
        for i, batch in enumerate(rounds):
            # Alternate which goes first so drift (CPU boost, GC) hits both equally.
            order = (True, False) if i % 2 == 0 else (False, True)
            for flag in order:
                gc.collect()
                rates[flag].append(replay(clusters[flag], clocks[flag], batch))
    finally:
        for c in clusters.values():
            c.close()

    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    # Rounds are paired (same requests, back to back): the median of the
    # per-round ratios is robust to the machine speeding up or slowing down.
    ratio = statistics.median(a / b for a, b in zip(rates[True], rates[False], strict=True))
    print(f"rounds: {args.rounds} x {args.requests} requests (same seeded mix)")
    print(f"metrics on : {on:10.0f} requests/s (median; rounds: "
          f"{', '.join(f'{r:.0f}' for r in rates[True])})")
    print(f"metrics off: {off:10.0f} requests/s (median; rounds: "
          f"{', '.join(f'{r:.0f}' for r in rates[False])})")
    print(f"ratio on/off: {ratio:.3f} (median of per-round ratios)   target: >= {TARGET:.2f}   "
          f"{'MET' if ratio >= TARGET else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
