"""A seeded replay through a small cluster, reduced to the series that do not depend on
timing: every counter, each histogram's ``_count`` and the gauges' values at rest."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engine.clock import ManualClock
from engine.cluster import Cluster
from engine.traffic import TrafficModel
from tests.engine.conftest import START, small_config

# Measured series (time taken, CPU used) and wall-clock stamps differ between runs.
TIMED = ("_bucket", "_sum", "_created", "ion_db_slow_queries_total", "ion_cpu_seconds_total",
         "ion_db_pool_busy_seconds_total", "ion_db_replication_lag_seconds")


def replay_exposition(requests: int = 4000) -> dict[str, float]:
    """``'name{labels}' -> value`` for every untimed series of every target."""
    clock = ManualClock(START)
    config = small_config()
    traffic = TrafficModel(config).requests_for(START + 10 * 3600, START + 12 * 3600)
    out: dict[str, float] = {}
    with Cluster(config, clock) as cluster:
        for i, r in enumerate(traffic[:requests]):
            if i == requests // 4:
                cluster.faults.start("builder_errors", "analyst", rate=0.5)
                cluster.faults.start("l2_down", "eu")
            if i == requests // 2:
                cluster.faults.stop_all()
                cluster.faults.start("l1_flush", "us")
            if r.ts > clock.now():
                clock.advance(r.ts - clock.now())
            cluster.request(r.region, r.method, r.path, r.body)
        for target, registry in cluster.registries().items():
            text = generate_latest(registry).decode()
            for family in text_string_to_metric_families(text):
                if family.name.startswith(("process_", "python_")):
                    continue
                for s in family.samples:
                    if s.name.endswith(TIMED) or s.name in TIMED:
                        continue
                    labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                    out[f"{target}:{s.name}{{{labels}}}"] = s.value
    return out
