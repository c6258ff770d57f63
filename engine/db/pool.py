"""A small connection pool that measures how long connections are checked out."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from engine.instruments import NullInstruments


class PoolTimeout(RuntimeError):
    """No connection became free in time."""


class ConnectionPool:
    def __init__(self, connect: Callable[[], Any], size: int, timeout_s: float,
                 instruments: NullInstruments) -> None:
        self.size = size
        self._connect = connect
        self._timeout_s = timeout_s
        self._inst = instruments
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._created = 0
        self._in_use = 0
        self._lock = threading.Lock()
        self._all: list[Any] = []
        instruments.watch_pool(size, lambda: self._in_use)

    @property
    def in_use(self) -> int:
        return self._in_use

    def _acquire(self) -> Any:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self.size:
                self._created += 1
                conn = self._connect()
                self._all.append(conn)
                return conn
        try:
            return self._idle.get(timeout=self._timeout_s)
        except queue.Empty:
            raise PoolTimeout(f"no connection free within {self._timeout_s}s") from None

    @contextmanager
    def connection(self) -> Iterator[Any]:
        conn = self._acquire()
        with self._lock:
            self._in_use += 1
        start = time.perf_counter()
        try:
            yield conn
        finally:
            self._inst.pool_busy(time.perf_counter() - start)
            with self._lock:
                self._in_use -= 1
            self._idle.put(conn)

    def close(self) -> None:
        for conn in self._all:
            with contextlib.suppress(Exception):  # best effort at shutdown
                conn.close()
        self._all.clear()
