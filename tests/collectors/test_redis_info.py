"""RedisCollector against a real redis-server: up, killed, restarted."""

from __future__ import annotations

import redis

from collectors.redis_info import RedisCollector
from tests.collectors.clock import FixedClock, by_name, meta
from tests.servers import RedisServer


def test_up_down_and_up_again(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("a", 1)
    client.set("b", 2)
    client.get("a")
    client.get("missing")
    collector = RedisCollector("cache-l2", redis_server.url, FixedClock(7.0), timeout_s=1)

    result = collector.collect()
    assert result.up and meta(result, "up") == 1.0
    samples = by_name(result)
    for name in (
        "redis_used_memory_bytes",
        "redis_connected_clients",
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total",
        "redis_evicted_keys_total",
        "redis_commands_processed_total",
        "redis_uptime_seconds",
    ):
        assert len(samples[name]) == 1, name
    assert samples["redis_keyspace_hits_total"][0].value >= 1
    assert samples["redis_keyspace_misses_total"][0].value >= 1
    (db0,) = samples["redis_db_keys"]
    assert db0.labels == {"db": "db0"} and db0.value == 2
    assert all(s.ts == 7.0 for s in result.samples)

    redis_server.stop()
    down = collector.collect()  # must not raise
    assert not down.up and meta(down, "up") == 0.0
    assert "cache-l2" in down.reason and redis_server.url in down.reason

    redis_server.start()
    again = collector.collect()
    assert again.up, again.reason
    assert by_name(again)["redis_uptime_seconds"][0].value < 60
