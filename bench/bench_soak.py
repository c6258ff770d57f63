"""Soak: ``ionmon serve``'s jobs for N minutes of wall time on a fast virtual clock.

The real engine serves modelled traffic in process, the scheduler's own triggers
(``run_virtual``) fire the scrape, evaluation, dashboards and retention jobs at their
virtual times, and faults start and stop on a schedule (a region down, then L2 down,
every two virtual hours). Reports memory at start and end, scrape cycles completed
vs scheduled, alerts fired and delivered vs expected, and samples lost (must be 0).

    python bench/bench_soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from alerts.rules import Bound, Rule, write_rules  # noqa: E402
from alerts.slo import default_slos  # noqa: E402
from alerts.state import AlertStore  # noqa: E402
from collectors.registry import RegistryCollector  # noqa: E402
from engine.cluster import Cluster  # noqa: E402
from engine.traffic import TrafficModel  # noqa: E402
from monitoring.app.config import Config, parse_config  # noqa: E402
from monitoring.app.jobs import JobContext, build_jobs  # noqa: E402
from monitoring.app.scheduler import JobRunner, JobStateDB, run_virtual  # noqa: E402
from monitoring.clock import VirtualClock  # noqa: E402
from monitoring.scrape import Scraper  # noqa: E402
from monitoring.store.base import Point  # noqa: E402
from monitoring.store.sqlite import SQLiteStore  # noqa: E402

START = 1_798_416_000.0  # a Monday 00:00 UTC, so hourly and daily triggers line up
CHUNK_S = 3600.0  # virtual time per run_virtual call; wall time is checked between
PERIOD_S = 2 * 3600.0  # one fault episode of each kind per period
# (kind, target, start within the period, duration): each should fire the alert once.
FAULTS = (("region_down", "asia", 20 * 60.0, 10 * 60.0),
          ("l2_down", "all", 80 * 60.0, 10 * 60.0))
RULE = Rule("region_or_l2_down", (Bound("regions_up", "<", 3), Bound("l2_error_rate", ">", 5)),
            60.0, "critical", "A region or the shared L2 cache is down", "fail over")


@dataclass
class SoakResult:
    wall_s: float
    virtual_s: float
    rss_start_mb: float
    rss_end_mb: float
    scrapes_scheduled: int
    scrapes_ok: int
    job_failures: int
    points_written: int
    points_stored: int
    faults_injected: int
    alerts_expected: int
    alerts_fired: int
    alerts_resolved: int
    notifications_delivered: int

    @property
    def samples_lost(self) -> int:
        return self.points_written - self.points_stored

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb


class _CountingStore:
    """The store, counting every point handed to it (to prove none goes missing)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.written = 0

    def write(self, points: Sequence[Point]) -> None:
        self._store.write(points)
        self.written += len(points)

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


class _Log:
    """A log channel that counts: what the evaluate job delivered."""

    name = "count"

    def __init__(self) -> None:
        self.notes: list[tuple[str, str, float]] = []

    def send(self, notes: Sequence) -> object:
        from alerts.notify.base import SendResult
        self.notes += [(n.rule, n.state, n.at) for n in notes]
        return SendResult.success()


def _config(work: Path) -> Config:
    return parse_config({
        "store": {"path": str(work / "ionmon.db"), "retention": "2d"},
        "scrape": {"interval": "60s", "timeout": "5s", "rate_window": "5m"},
        "engine": {"database": {"seed_rows": 2000, "seed_users": 200},
                   "traffic": {"peak_requests_per_minute": 120}},
        "alerts": {"rules_path": str(work / "rules.yaml"), "baseline": "2d",
                   "state_path": str(work / "alerts.db"), "channels": {"log": False}},
        # Retention may not be shorter than the windows that read the store.
        "slos": [{**slo.model_dump(), "window": "2d"} for slo in default_slos()],
        "schedule": {"evaluate_interval": "60s", "dashboards_interval": "6h",
                     "retention_cron": "15 * * * *"},
        "output_dir": str(work / "out"),
    }, "soak")


def _rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def run_soak(wall_s: float, work: Path, max_virtual_s: float | None = None) -> SoakResult:
    """Run until ``wall_s`` of wall time (or ``max_virtual_s`` of virtual time) has passed."""
    import alerts.notify.dispatch as dispatch

    config = _config(work)
    write_rules(config.alerts.rules_path, [RULE])
    clock = VirtualClock(START - 600)
    cluster = Cluster(config.engine, clock)
    traffic = TrafficModel(config.engine)
    store = _CountingStore(SQLiteStore(config.store.path, clock=clock))
    state = JobStateDB(config.scheduler_state_path)
    counter = _Log()
    real_channels = dispatch.channels_from
    # The evaluate job builds its channels from config; here they are one counting sink.
    dispatch.channels_from = lambda *_a, **_k: [counter]  # type: ignore[assignment]
    served = [clock.now()]
    active: set[tuple[str, str]] = set()
    injected = 0

    def faults_at(ts: float) -> None:
        nonlocal injected
        offset = (ts - START) % PERIOD_S
        for kind, target, at, duration in FAULTS:
            on = ts >= START and at <= offset < at + duration
            key = (kind, target)
            if on and key not in active:
                cluster.faults.start(kind, target)
                active.add(key)
                injected += 1
            elif not on and key in active:
                cluster.faults.stop(kind, target)
                active.discard(key)

    def advance(ts: float) -> None:
        """Serve the modelled traffic up to ``ts`` and bring faults to their state."""
        for req in traffic.requests_for(served[0], ts):
            clock.set(max(clock.now(), req.ts))
            cluster.request(req.region, req.method, req.path, req.body)
        clock.set(max(clock.now(), ts))
        faults_at(ts)
        cluster.tick()
        served[0] = ts

    try:
        registries = cluster.registries
        scraper = Scraper([RegistryCollector(n, (lambda n=n: registries().get(n)), clock)
                           for n in ("edge", *config.engine.regions)],
                          window_scrapes=config.scrape.window_scrapes)
        for t in (START - 300, START - 240, START - 180, START - 120, START - 60):
            advance(t)
            scraper.cycle(t)  # prime the rate window, as serve's first scrape does
        runner = JobRunner(state)
        ctx = JobContext(config, store, state, scraper)  # type: ignore[arg-type]
        specs = build_jobs(ctx)
        rss_start = _rss_mb()
        began = time.monotonic()
        t = START
        while time.monotonic() - began < wall_s and (max_virtual_s is None
                                                     or t - START < max_virtual_s):
            run_virtual(specs, runner, t, t + CHUNK_S, on_tick=advance)
            t += CHUNK_S
        wall = time.monotonic() - began
        rss_end = _rss_mb()
    finally:
        dispatch.channels_from = real_channels
        cluster.close()
    jobs = {j.job: j for j in state.jobs()}  # the runner's history keeps only the latest
    stored = sum(len(s) for s in store.read_many(store.series_ids(), START - 1, t + 1).values())
    history = AlertStore(config.alerts.state_path).history(RULE.id, limit=100_000)
    store.close()
    state.close()
    virtual = t - START
    # Whole episodes only: one still running at the end may not have fired yet.
    expected = sum(1 for p in range(int(virtual // PERIOD_S) + 1) for *_, at, dur in FAULTS
                   if p * PERIOD_S + at + dur + 120 <= virtual)
    return SoakResult(
        wall_s=round(wall, 1), virtual_s=virtual, rss_start_mb=round(rss_start, 1),
        rss_end_mb=round(rss_end, 1), scrapes_scheduled=int(virtual // 60),
        scrapes_ok=jobs["scrape"].runs - jobs["scrape"].failures,
        job_failures=sum(j.failures for j in jobs.values()), points_written=store.written,
        points_stored=stored, faults_injected=injected, alerts_expected=expected,
        alerts_fired=sum(h["new"] == "firing" for h in history),
        alerts_resolved=sum(h["new"] == "resolved" for h in history),
        notifications_delivered=sum(rule == RULE.id for rule, _, _ in counter.notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="wall time to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_soak(args.minutes * 60, Path(tmp))
    report = {**asdict(result), "samples_lost": result.samples_lost,
              "rss_growth_mb": round(result.rss_growth_mb, 1),
              "virtual_hours": round(result.virtual_s / 3600, 1)}
    print(json.dumps(report, indent=2))
    ok = (result.samples_lost == 0 and result.scrapes_ok == result.scrapes_scheduled
          and result.alerts_fired >= result.alerts_expected)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
