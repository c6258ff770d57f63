"""Modelled traffic sent to a running engine over HTTP, each request at its own time.

The live run's client of the engine: it reaches the edge the way real clients do.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from engine.clock import Clock
from engine.traffic import Request, TrafficModel

SLICE_S = 1.0  # traffic is fetched from the model one second ahead
REQUEST_TIMEOUT_S = 10.0


class TrafficReplayer:
    """Sends each modelled request to the edge at its own wall-clock time."""

    def __init__(self, model: TrafficModel, edge_url: str, clock: Clock,
                 workers: int = 8) -> None:
        self.model = model
        self.edge_url = edge_url.rstrip("/")
        self.clock = clock
        self.sent = 0
        self.failed = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="traffic")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="traffic", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        t = self.clock.now()
        while not self._stop.is_set():
            for req in self.model.requests_for(t, t + SLICE_S):
                delay = req.ts - self.clock.now()
                if delay > 0 and self._stop.wait(delay):
                    return
                self._pool.submit(self._send, req)
            t += SLICE_S
            ahead = t - self.clock.now()
            if ahead > 0 and self._stop.wait(ahead):
                return

    def _send(self, req: Request) -> None:
        # The edge port routes /<region>/v2/... to that region, as clients reach it.
        url = f"{self.edge_url}/{req.region}{req.path}"
        r = urllib.request.Request(url, data=req.body or None, method=req.method,
                                   headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=REQUEST_TIMEOUT_S) as resp:
                resp.read()
            ok = True
        except urllib.error.HTTPError as exc:  # 4xx/5xx are answers, still traffic
            exc.read()
            ok = True
        except OSError:
            ok = False
        with self._lock:
            self.sent += 1
            self.failed += 0 if ok else 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
