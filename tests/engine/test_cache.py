import pytest
from prometheus_client import CollectorRegistry

from engine.cache.l1 import MISSING, LruTtlCache
from engine.cache.l2 import CacheUnavailable, MemoryL2, MemoryStore, RedisL2
from engine.cache.tiered import TieredCache
from engine.clock import ManualClock
from engine.cluster import Cluster
from engine.instruments import PromInstruments
from tests.engine.conftest import body, sample, small_config


def test_l1_lru_evicts_least_recently_used() -> None:
    cache = LruTtlCache(max_items=2, ttl_s=60)
    assert cache.put("a", 1, 10, 0) == 0
    cache.put("b", 2, 10, 0)
    assert cache.get("a", 1) == 1  # a becomes most recent
    assert cache.put("c", 3, 10, 1) == 1  # evicts b
    assert cache.get("b", 1) is MISSING
    assert len(cache) == 2 and cache.memory_bytes == 20


def test_l1_ttl_uses_the_given_time() -> None:
    cache = LruTtlCache(max_items=10, ttl_s=300)
    cache.put("k", "v", 1, now=1000)
    assert cache.get("k", 1299.9) == "v"
    assert cache.get("k", 1300) is MISSING
    assert len(cache) == 0


def _tiered(clock: ManualClock, l2) -> tuple[TieredCache, CollectorRegistry]:
    registry = CollectorRegistry()
    inst = PromInstruments(registry, "us", 0.005)
    return TieredCache(LruTtlCache(2, 300), l2, clock, inst), registry


def _value(registry: CollectorRegistry, name: str, tier: str) -> float:
    return registry.get_sample_value(name, {"region": "us", "tier": tier}) or 0.0


def test_tiered_lookup_fills_back_and_counts() -> None:
    clock = ManualClock()
    store = MemoryStore(clock)
    cache, reg = _tiered(clock, MemoryL2(store, 3600))
    calls = []
    assert cache.get_or_load("k", lambda: calls.append(1) or {"v": 1}) == {"v": 1}
    assert cache.get_or_load("k", lambda: calls.append(1)) == {"v": 1}
    assert len(calls) == 1
    cache.flush_l1()
    assert cache.get_or_load("k", lambda: calls.append(1)) == {"v": 1}  # from L2
    assert _value(reg, "ion_cache_hits_total", "l1") == 1
    assert _value(reg, "ion_cache_hits_total", "l2") == 1
    assert _value(reg, "ion_cache_misses_total", "l1") == 2
    assert _value(reg, "ion_cache_misses_total", "l2") == 1
    for key in ("a", "b"):
        cache.get_or_load(key, lambda: 1)
    assert _value(reg, "ion_cache_evictions_total", "l1") == 1
    assert _value(reg, "ion_cache_items", "l2") == 3
    assert _value(reg, "ion_cache_memory_bytes", "l2") > 0


def test_memory_l2_ttl_and_unreachable() -> None:
    clock = ManualClock()
    l2 = MemoryL2(MemoryStore(clock), ttl_s=10)
    l2.set("k", b"v")
    assert l2.get("k") == b"v"
    clock.advance(10)
    assert l2.get("k") is None
    l2.set_reachable(False)
    with pytest.raises(CacheUnavailable):
        l2.get("k")
    cache, reg = _tiered(clock, l2)
    assert cache.get_or_load("x", lambda: 5) == 5  # still served from the loader
    # One error: after a failed get the fill-back to L2 is skipped.
    assert _value(reg, "ion_cache_errors_total", "l2") == 1


def test_redis_l2_real_server(redis_server) -> None:
    clock = ManualClock()
    l2 = RedisL2(redis_server.url, ttl_s=60, clock=clock, prefix="t:")
    try:
        l2.set("k", b"value")
        assert l2.get("k") == b"value"
        assert l2.items() >= 1 and l2.memory_bytes() > 0
        clock.advance(61)  # freshness follows the injected clock
        assert l2.get("k") is None
        l2.delete("k")
        l2.set_reachable(False)
        with pytest.raises(CacheUnavailable):
            l2.set("k", b"v")
        l2.set_reachable(True)
        l2.set("k", b"v2")
        assert l2.get("k") == b"v2"
    finally:
        l2.close()


def test_redis_killed_engine_keeps_serving(redis_server, clock) -> None:
    config = small_config()
    config = config.model_copy(update={"cache": config.cache.model_copy(
        update={"l2": "redis", "l2_url": redis_server.url})})
    with Cluster(config, clock) as cluster:
        req = body(user_id="u1", message="my python code has a bug")
        assert cluster.request("us", "POST", "/v2/recommend", req).status == 200
        assert sample(cluster, "us", "ion_cache_misses_total", tier="l2") >= 1
        redis_server.stop()
        # L1 still answers for u1; u2 falls through to the database.
        assert cluster.request("us", "POST", "/v2/recommend", req).status == 200
        resp = cluster.request("us", "POST", "/v2/recommend",
                               body(user_id="u2", message="hello"))
        assert resp.status == 200
        assert sample(cluster, "us", "ion_cache_errors_total", tier="l2") >= 1
        assert sample(cluster, "us", "ion_cache_hits_total", tier="l1") >= 2
        redis_server.start()
