from collections import Counter

from engine.cluster import Cluster
from engine.traffic import TrafficModel
from tests.engine.conftest import START, sample


def test_an_hour_of_modelled_traffic(cluster: Cluster, clock) -> None:
    reqs = TrafficModel(cluster.config).requests_for(START + 12 * 3600, START + 13 * 3600)
    clock.advance(12 * 3600)
    codes: Counter[int] = Counter()
    for r in reqs:
        clock.advance(max(0.0, r.ts - clock.now()))
        codes[cluster.request(r.region, r.method, r.path, r.body).status] += 1
    assert sum(n for c, n in codes.items() if c >= 500) == 0
    assert codes[200] > 0.95 * len(reqs)
    for region in ("us", "eu", "asia"):
        hits = sample(cluster, region, "ion_cache_hits_total", tier="l1")
        misses = sample(cluster, region, "ion_cache_misses_total", tier="l1")
        l2_hits = sample(cluster, region, "ion_cache_hits_total", tier="l2")
        assert 0.1 < hits / (hits + misses) < 0.9  # L1 well below 100%
        assert (hits + l2_hits) / (hits + misses) > 0.6
        assert sample(cluster, region, "ion_cpu_seconds_total") > 0
    edge_total = sum(sample(cluster, "edge", "ion_edge_requests_total", region=r, code="200")
                     for r in ("us", "eu", "asia"))
    assert edge_total == codes[200]
