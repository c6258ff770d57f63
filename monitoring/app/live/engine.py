"""The engine live on loopback ports, with traffic flowing and a scraper pointed at it.

A live run carries on from a backfill: ``carry_on`` fills the store from its newest
sample to the current minute (and replays the alerts over it), and the engine is
warmed the way the backfill warms it, serving the modelled traffic of the warm-up on
a virtual clock that then joins the wall clock, so the page opens on warm caches and
without a gap.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from alerts.notify.log import LogNotifier
from alerts.replay import replay
from engine.cluster import EDGE, Cluster
from engine.replay import TrafficReplayer
from engine.traffic import TrafficModel
from monitoring.app.backfill import MINUTE, _serve, newest_sample, prepare_range, run_backfill
from monitoring.app.config import Config
from monitoring.app.stores import open_store
from monitoring.app.targets import live_collectors
from monitoring.clock import VirtualClock
from monitoring.groundtruth import FaultLog
from monitoring.scrape import CycleResult, Scraper
from monitoring.store.sqlite import SQLiteStore

log = logging.getLogger(__name__)
WARMUP_S = 2.0
# A live run fills at most this much of a gap after the backfill before it starts;
# a longer one is 'ionmon backfill''s job (it would hold the start for minutes).
MAX_CARRY_ON_S = 6 * 3600.0


class WarmingClock:
    """Virtual time while the engine warms up (``set`` moves it), then the wall clock."""

    def __init__(self, start: float) -> None:
        self._virtual: VirtualClock | None = VirtualClock(start)

    def now(self) -> float:
        return time.time() if self._virtual is None else self._virtual.now()

    def set(self, ts: float) -> None:
        if self._virtual is not None:
            self._virtual.set(ts)

    def go_live(self) -> None:
        """From now on, the wall clock (never behind the virtual time reached)."""
        virtual = self._virtual
        if virtual is not None:
            while time.time() < virtual.now():
                time.sleep(min(virtual.now() - time.time(), 0.05))
        self._virtual = None


@dataclass(frozen=True)
class CarriedOn:
    start: float  # first minute filled
    end: float  # the current minute, where live scraping takes over
    cycles: int
    evaluations: int  # alert evaluations replayed over the filled minutes


def carry_on(config: Config, now: float | None = None) -> CarriedOn | None:
    """Fill the embedded store from its newest sample to the current minute, the way
    ``ionmon backfill`` would resume, and replay the alerts over what was filled (log
    channel only), when alerts were evaluated before. None when the store holds no
    backfill to carry on; nothing is filled when nothing is missing or the gap is longer
    than ``MAX_CARRY_ON_S``."""
    if config.store.backend != "sqlite" or not Path(config.store.path).exists():
        return None
    now = time.time() if now is None else now
    step = config.scrape.interval
    end = math.floor(now / step) * step
    store = SQLiteStore(config.store.path, retention_s=None)
    faults = FaultLog(config.store.path)
    try:
        runs = store.backfill_status(-math.inf, end)
        if not runs:
            return None
        start = max(runs, key=lambda r: r.end).start  # the latest backfill, its faults' origin
        newest = newest_sample(store, start, end)
        if newest is None:  # the backfill's samples are gone (retention): nothing to join
            return CarriedOn(end, end, 0, 0)
        if end - newest > MAX_CARRY_ON_S:
            log.warning("store %s ends %.0f min before now: run 'ionmon backfill' to fill "
                        "the gap; serving live from now", config.store.path,
                        (end - newest) / 60)
            return CarriedOn(end, end, 0, 0)
        filled = 0
        if prepare_range(store, faults, start, end, replace=False, step=step):
            filled = run_backfill(config, store, faults, start, 0, end=end).cycles
        evaluations = 0
        if filled and Path(config.alerts.state_path).exists():  # alerts were evaluated
            evaluations = replay(config.alerting, store, start, end, [LogNotifier()]).evaluations
    finally:
        store.close()
        faults.close()
    return CarriedOn(end - filled * step, end, filled, evaluations)


def _scaled(config: Config, scale: float) -> Config:
    """The config with the modelled request rate multiplied (short live runs need traffic)."""
    if scale == 1.0:
        return config
    t = config.engine.traffic
    traffic = t.model_copy(update={"peak_requests_per_minute": t.peak_requests_per_minute * scale})
    return config.model_copy(update={
        "engine": config.engine.model_copy(update={"traffic": traffic})})


class LiveEngine:
    """The engine on loopback ports, with traffic flowing and a scraper pointed at it."""

    def __init__(self, config: Config, traffic: bool = True, traffic_scale: float = 1.0,
                 warmup_s: float = 0.0) -> None:
        self.clock = WarmingClock(time.time() - warmup_s)
        self.cluster = Cluster(config.engine, self.clock)
        try:
            self._warm(config, warmup_s)
            self.urls = self.cluster.start_http()
            self.scraper = Scraper(live_collectors(config, self.clock, self.urls),
                                   parallel=True, derive_from=self.urls)
            self.traffic = (TrafficReplayer(TrafficModel(_scaled(config, traffic_scale).engine),
                                            self.urls[EDGE], self.clock) if traffic else None)
        except BaseException:
            self.cluster.close()
            raise

    def _warm(self, config: Config, warmup_s: float) -> None:
        """Serve ``warmup_s`` of modelled traffic in process on virtual time, as the
        backfill does before its range, then join the wall clock."""
        if warmup_s > 0:
            traffic = TrafficModel(config.engine)
            t0 = self.clock.now()
            for i in range(int(warmup_s // MINUTE)):
                _serve(self.cluster, traffic, self.clock, t0 + i * MINUTE)  # type: ignore[arg-type]
        self.clock.go_live()

    def __enter__(self) -> LiveEngine:
        if self.traffic is not None:
            self.traffic.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.traffic is not None:
            self.traffic.stop()
        self.scraper.close()
        self.cluster.close()


@dataclass(frozen=True)
class ScrapeOutcome:
    cycle: CycleResult
    requests: int


def scrape_once(config: Config, window_s: float, write: bool = True,
                traffic_scale: float = 1.0) -> ScrapeOutcome:
    """Prime a scrape, let traffic run for ``window_s``, scrape again, store the values."""
    with LiveEngine(config, traffic_scale=traffic_scale) as live:
        # Labelled counters appear on their first request; a rate needs them in both scrapes.
        time.sleep(WARMUP_S)
        live.scraper.cycle(live.clock.now())
        time.sleep(window_s)
        cycle = live.scraper.cycle(live.clock.now())
        sent = live.traffic.sent if live.traffic else 0
    if write and cycle.values:
        store = open_store(config)
        try:
            store.write(cycle.points())
        finally:
            store.close()
    return ScrapeOutcome(cycle, sent)
