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


def _is_broken(conn: Any) -> bool:
    """True when the driver marked the connection unusable (psycopg sets ``closed`` or
    ``broken`` once the server is gone); a plain SQL error leaves it usable."""
    return bool(getattr(conn, "closed", False) or getattr(conn, "broken", False))


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
                try:
                    conn = self._connect()
                except BaseException:
                    # The slot stays free: a server that is down now may be back later.
                    self._created -= 1
                    raise
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
        broken = False
        try:
            yield conn
        except BaseException:
            broken = _is_broken(conn)
            raise
        finally:
            self._inst.pool_busy(time.perf_counter() - start)
            with self._lock:
                self._in_use -= 1
            if broken:
                # The server went away (e.g. restarted): the idle connections date from
                # the same server process, so none of them is worth trying either.
                self._discard(conn)
                self._discard_idle()
            else:
                self._idle.put(conn)

    def _discard(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            conn.close()
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
                self._created -= 1

    def _discard_idle(self) -> None:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(conn)

    def close(self) -> None:
        for conn in self._all:
            with contextlib.suppress(Exception):  # best effort at shutdown
                conn.close()
        self._all.clear()
