"""Shared L2 cache: one small protocol, an in-process store and Redis.

Values carry their own expiry time (from the injected clock) so TTLs behave the
same in virtual time as in real time, whichever backend holds them.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from engine.clock import Clock

_EXPIRY = struct.Struct("<d")


class CacheUnavailable(RuntimeError):
    """The L2 backend could not be reached."""


class SharedCache(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def items(self) -> int: ...
    def memory_bytes(self) -> int: ...
    def set_reachable(self, reachable: bool) -> None: ...
    def close(self) -> None: ...


class MemoryStore:
    """The shared in-process store; each region talks to it through a client."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._data: dict[str, tuple[bytes, float]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock.now():
            with self._lock:
                self._pop(key)
            return None
        return entry[0]

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        with self._lock:
            self._pop(key)
            self._data[key] = (value, self._clock.now() + ttl_s)
            self._bytes += len(key) + len(value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._pop(key)

    def _pop(self, key: str) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self._bytes -= len(key) + len(old[0])

    def items(self) -> int:
        return len(self._data)

    def memory_bytes(self) -> int:
        return self._bytes


class MemoryL2:
    """One region's connection to the shared in-process store."""

    def __init__(self, store: MemoryStore, ttl_s: float) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._reachable = True

    def _check(self) -> None:
        if not self._reachable:
            raise CacheUnavailable("memory L2 unreachable")

    def get(self, key: str) -> bytes | None:
        self._check()
        return self._store.get(key)

    def set(self, key: str, value: bytes) -> None:
        self._check()
        self._store.set(key, value, self._ttl_s)

    def delete(self, key: str) -> None:
        self._check()
        self._store.delete(key)

    def items(self) -> int:
        return self._store.items()

    def memory_bytes(self) -> int:
        return self._store.memory_bytes()

    def set_reachable(self, reachable: bool) -> None:
        self._reachable = reachable

    def close(self) -> None:
        pass


def _closed_port() -> int:
    # A port that was free a moment ago: connecting to it is refused at once.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(url: str) -> redis.Redis:
    # No retries and short timeouts: a dead L2 must not slow requests down.
    return redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25,
                                retry=Retry(NoBackoff(), 0), retry_on_timeout=False)


class RedisL2:
    """L2 in a real Redis (redis-py). INFO is read at most once a second."""

    def __init__(self, url: str, ttl_s: float, clock: Clock, prefix: str = "ion:") -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._clock = clock
        self._prefix = prefix
        self._client = _client(url)
        self._stats: tuple[float, int, int] = (-1e9, 0, 0)  # (monotonic, items, bytes)

    def _call(self, fn, *args):  # type: ignore[no-untyped-def]
        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise CacheUnavailable(f"redis: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        raw = self._call(self._client.get, self._prefix + key)
        if raw is None:
            return None
        (expiry,) = _EXPIRY.unpack_from(raw)
        if expiry <= self._clock.now():
            return None
        return bytes(raw[_EXPIRY.size:])

    def set(self, key: str, value: bytes) -> None:
        expiry = self._clock.now() + self._ttl_s
        # The wall-clock TTL only bounds memory; freshness uses the stored expiry.
        self._call(self._client.set, self._prefix + key, _EXPIRY.pack(expiry) + value,
                   max(1, int(self._ttl_s)))

    def delete(self, key: str) -> None:
        self._call(self._client.delete, self._prefix + key)

    def _refresh_stats(self) -> tuple[float, int, int]:
        # Throttle in wall time: INFO is a real round trip, scrapes can be frequent.
        at, items, used = self._stats
        if time.monotonic() - at >= 1.0:
            try:
                items = int(self._client.dbsize())
                used = int(self._client.info("memory")["used_memory"])
            except redis.RedisError:
                pass  # keep the last known figures; errors are counted on use
            self._stats = (time.monotonic(), items, used)
        return self._stats

    def items(self) -> int:
        return self._refresh_stats()[1]

    def memory_bytes(self) -> int:
        return self._refresh_stats()[2]

    def set_reachable(self, reachable: bool) -> None:
        old = self._client
        if reachable:
            self._client = _client(self._url)
        else:
            kwargs = old.connection_pool.connection_kwargs
            self._client = _client(f"redis://127.0.0.1:{_closed_port()}/{kwargs.get('db', 0)}")
        old.close()

    def close(self) -> None:
        self._client.close()
