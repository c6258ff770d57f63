"""In-process LRU cache with a TTL (read from the injected clock) and a size limit."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

MISSING: Any = object()


class LruTtlCache:
    def __init__(self, max_items: int, ttl_s: float) -> None:
        self.max_items = max_items
        self.ttl_s = ttl_s
        # key -> (value, size in bytes, expiry epoch seconds)
        self._entries: OrderedDict[str, tuple[Any, int, float]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, now: float) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return MISSING
        if entry[2] <= now:
            self._remove(key)
            return MISSING
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: str, value: Any, size: int, now: float) -> int:
        """Store a value; returns how many entries were evicted to make room."""
        if key in self._entries:
            self._remove(key)
        self._entries[key] = (value, size, now + self.ttl_s)
        self._bytes += size
        evicted = 0
        while len(self._entries) > self.max_items:
            _, (_, old_size, _) = self._entries.popitem(last=False)
            self._bytes -= old_size
            evicted += 1
        return evicted

    def delete(self, key: str) -> None:
        if key in self._entries:
            self._remove(key)

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        self._bytes = 0
        return count

    def _remove(self, key: str) -> None:
        _, size, _ = self._entries.pop(key)
        self._bytes -= size

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def memory_bytes(self) -> int:
        return self._bytes
