"""The engine live on loopback ports, with traffic flowing and a scraper pointed at it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.cluster import EDGE, Cluster
from engine.replay import TrafficReplayer
from engine.traffic import TrafficModel
from monitoring.app.config import Config
from monitoring.app.stores import open_store
from monitoring.app.targets import live_collectors
from monitoring.clock import WallClock
from monitoring.scrape import CycleResult, Scraper

WARMUP_S = 2.0


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

    def __init__(self, config: Config, traffic: bool = True, traffic_scale: float = 1.0
                 ) -> None:
        self.clock = WallClock()
        self.cluster = Cluster(config.engine, self.clock)
        try:
            self.urls = self.cluster.start_http()
            self.scraper = Scraper(live_collectors(config, self.clock, self.urls),
                                   parallel=True, derive_from=self.urls)
            self.traffic = (TrafficReplayer(TrafficModel(_scaled(config, traffic_scale).engine),
                                            self.urls[EDGE], self.clock) if traffic else None)
        except BaseException:
            self.cluster.close()
            raise

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
