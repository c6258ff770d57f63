"""The engine's, a real Prometheus's and a real Alertmanager's /metrics: no rejection."""

from __future__ import annotations

from collectors.base import ScrapeResult
from collectors.exposition import ExpositionCollector
from engine.cluster import Cluster
from tests.collectors.clock import FixedClock
from tests.collectors.test_servers import ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG
from tests.servers import AlertmanagerServer, PrometheusServer


def _clean(url: str, at_least: int = 50) -> ScrapeResult:
    result = ExpositionCollector("svc", url, FixedClock(), timeout_s=10).collect()
    assert result.up, result.reason
    assert result.rejected == ()
    assert len(result.samples) > at_least
    return result


def test_engine_metrics_are_taken_whole() -> None:
    with Cluster() as cluster:
        urls = cluster.start_http()
        results = [_clean(f"{url.rstrip('/')}/metrics", 2) for url in urls.values()]
        assert all((r.reason or "").startswith("read as text 0.0.4") for r in results)
        assert sum(len(r.samples) for r in results) > 100


def test_prometheus_and_alertmanager_metrics_are_taken_whole() -> None:
    with PrometheusServer(PROMETHEUS_CONFIG) as prom:
        result = _clean(f"{prom.url}/metrics")
        assert any(s.name == "prometheus_build_info" for s in result.samples)
    with AlertmanagerServer(ALERTMANAGER_CONFIG) as am:
        result = _clean(f"{am.url}/metrics")
        assert any(s.name == "alertmanager_build_info" for s in result.samples)
