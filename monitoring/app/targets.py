"""The collectors for a live run: the engine's endpoints plus config.yaml's extra targets."""

from __future__ import annotations

from collections.abc import Mapping

from collectors.base import Collector
from collectors.exposition import ExpositionCollector
from collectors.host import HostCollector
from collectors.postgres import PostgresCollector
from collectors.redis_info import RedisCollector
from collectors.sqlite_stats import SQLiteCollector
from monitoring.app.config import Config
from monitoring.clock import Clock
from monitoring.config import TargetConfig


def extra_collector(target: TargetConfig, clock: Clock, timeout: float) -> Collector:
    if target.kind == "exposition":
        return ExpositionCollector(target.name, target.url, clock, timeout_s=timeout,
                                   limits=target.limits())
    if target.kind == "redis":
        return RedisCollector(target.name, target.url, clock, timeout_s=timeout)
    if target.kind == "postgres":
        return PostgresCollector(target.name, target.url, clock, timeout_s=timeout)
    if target.kind == "sqlite":
        return SQLiteCollector(target.name, target.url, clock)
    return HostCollector(target.name, clock)


def live_collectors(config: Config, clock: Clock, engine_urls: Mapping[str, str]
                    ) -> list[Collector]:
    """One exposition collector per engine endpoint (edge and regions), then the extras."""
    timeout = config.scrape.timeout
    out: list[Collector] = [
        ExpositionCollector(name, f"{url.rstrip('/')}/metrics", clock, timeout_s=timeout)
        for name, url in engine_urls.items()
    ]
    out += [extra_collector(t, clock, timeout) for t in config.scrape.targets]
    return out
