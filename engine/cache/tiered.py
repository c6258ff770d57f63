"""L1 -> L2 -> loader lookups with fill-back; L2 failures never fail a request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.cache.l1 import MISSING, LruTtlCache
from engine.cache.l2 import CacheUnavailable, SharedCache
from engine.clock import Clock
from engine.instruments import NullInstruments


class TieredCache:
    def __init__(self, l1: LruTtlCache, l2: SharedCache, clock: Clock,
                 instruments: NullInstruments) -> None:
        self.l1 = l1
        self.l2 = l2
        self._clock = clock
        self._inst = instruments
        instruments.watch_cache("l1", lambda: len(l1), lambda: l1.memory_bytes)
        instruments.watch_cache("l2", l2.items, l2.memory_bytes)
        self._l1_hit = instruments.counter("cache_hits", "l1")
        self._l1_miss = instruments.counter("cache_misses", "l1")
        self._l2_hit = instruments.counter("cache_hits", "l2")
        self._l2_miss = instruments.counter("cache_misses", "l2")
        self._l2_error = instruments.counter("cache_errors", "l2")

    def get_or_load(self, key: str, loader: Callable[[], Any]) -> Any:
        """Cached value, else ``loader()``; a ``None`` result is not cached."""
        now = self._clock.now()
        value = self.l1.get(key, now)
        if value is not MISSING:
            self._l1_hit()
            return value
        self._l1_miss()
        l2_ok = True
        try:
            raw = self.l2.get(key)
        except CacheUnavailable:
            self._l2_error()
            raw, l2_ok = None, False
        if raw is not None:
            self._l2_hit()
            value = json.loads(raw)
            self._fill_l1(key, value, len(raw), now)
            return value
        if l2_ok:
            self._l2_miss()
        value = loader()
        if value is None:
            return None
        raw = json.dumps(value, separators=(",", ":")).encode()
        self._fill_l1(key, value, len(raw), now)
        if l2_ok:
            try:
                self.l2.set(key, raw)
            except CacheUnavailable:
                self._l2_error()
        return value

    def _fill_l1(self, key: str, value: Any, size: int, now: float) -> None:
        evicted = self.l1.put(key, value, len(key) + size, now)
        if evicted:
            self._inst.cache_evictions("l1", evicted)

    def invalidate(self, key: str) -> None:
        self.l1.delete(key)
        try:
            self.l2.delete(key)
        except CacheUnavailable:
            self._l2_error()

    def flush_l1(self) -> int:
        return self.l1.clear()
