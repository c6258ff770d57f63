"""Redis INFO → samples (memory, clients, hit/miss, evictions, commands, keys per db)."""

from __future__ import annotations

import time
from typing import Any

import redis

from collectors.base import Sample, ScrapeResult
from collectors.redact import redact
from collectors.scrape import Clock, finish

# INFO field → sample name (all unlabelled).
_FIELDS = {
    "used_memory": "redis_used_memory_bytes",
    "connected_clients": "redis_connected_clients",
    "keyspace_hits": "redis_keyspace_hits_total",
    "keyspace_misses": "redis_keyspace_misses_total",
    "evicted_keys": "redis_evicted_keys_total",
    "total_commands_processed": "redis_commands_processed_total",
    "uptime_in_seconds": "redis_uptime_seconds",
}


class RedisCollector:
    def __init__(self, target: str, url: str, clock: Clock, timeout_s: float = 5.0) -> None:
        self.target = target
        self.url = url
        self.clock = clock
        self.timeout_s = timeout_s
        # No client-side retries: a down server should fail the scrape at once.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=None,
            retry_on_timeout=False,
            health_check_interval=0,
        )

    def collect(self) -> ScrapeResult:
        ts = self.clock.now()
        started = time.perf_counter()
        try:
            info = self._client.info()
        except redis.TimeoutError:
            reason = f"{self._where()}: timeout after {self.timeout_s:g}s"
            return finish(self.target, ts, started, reason=reason)
        except redis.RedisError as exc:
            return finish(self.target, ts, started, reason=f"{self._where()}: {exc}")
        return finish(self.target, ts, started, info_to_samples(info, ts))

    def _where(self) -> str:
        return f"{self.target} ({redact(self.url)})"


def info_to_samples(info: dict[str, Any], ts: float) -> list[Sample]:
    """Pure mapping of a parsed INFO reply (redis-py's dict) to samples."""
    samples = [
        Sample(name, {}, float(info[field]), ts) for field, name in _FIELDS.items() if field in info
    ]
    for key, value in info.items():
        # Keyspace lines parse to e.g. info["db0"] == {"keys": 3, "expires": 0, ...}.
        if key.startswith("db") and key[2:].isdigit() and isinstance(value, dict):
            samples.append(Sample("redis_db_keys", {"db": key}, float(value.get("keys", 0)), ts))
    return samples
