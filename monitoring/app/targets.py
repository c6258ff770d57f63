"""The collectors for a live run: the engine's endpoints plus config.yaml's extra targets."""

from __future__ import annotations

from collections.abc import Mapping

from collectors.base import Collector
from collectors.exposition import ExpositionCollector
from collectors.host import HostCollector
from collectors.postgres import PostgresCollector
from collectors.redis_info import RedisCollector
from collectors.relabel import TargetLabels
from collectors.sqlite_stats import SQLiteCollector
from monitoring.app.config import Config
from monitoring.clock import Clock
from monitoring.config import TargetConfig


def target_labels(target: TargetConfig) -> dict[str, str]:
    """What Prometheus attaches to an extra target's samples: its job and target."""
    return {"job": target.name, "target": target.name}


def extra_collector(target: TargetConfig, clock: Clock, timeout: float) -> Collector:
    """The target's collector; every sample it yields carries ``target_labels``, so a
    family named like an engine metric stays a series of its own."""
    return TargetLabels(_collector(target, clock, timeout), target_labels(target),
                        target.honor_labels)


def _collector(target: TargetConfig, clock: Clock, timeout: float) -> Collector:
    if target.kind == "exposition":
        return ExpositionCollector(target.name, target.url, clock, timeout_s=timeout,
                                   limits=target.limits(), extra_labels=target_labels(target),
                                   honor_labels=target.honor_labels)
    if target.kind == "redis":
        return RedisCollector(target.name, target.url, clock, timeout_s=timeout)
    if target.kind == "postgres":
        return PostgresCollector(target.name, target.url, clock, timeout_s=timeout)
    if target.kind == "sqlite":
        return SQLiteCollector(target.name, target.url, clock)
    return HostCollector(target.name, clock)


def live_collectors(config: Config, clock: Clock, engine_urls: Mapping[str, str]
                    ) -> list[Collector]:
    """One exposition collector per engine endpoint (edge and region instances), then
    the extras; several instances of a region carry its ``target`` and their own
    ``instance``, as Prometheus attaches them."""
    timeout = config.scrape.timeout
    regions = config.engine.instance_regions()
    out: list[Collector] = []
    for name, url in engine_urls.items():
        collector = ExpositionCollector(name, f"{url.rstrip('/')}/metrics", clock,
                                        timeout_s=timeout)
        region = regions.get(name, name)
        out.append(collector if region == name else TargetLabels(
            collector, {"target": region, "instance": name}))
    out += [extra_collector(t, clock, timeout) for t in config.scrape.targets]
    return out
