"""Shared pieces of the reliability tests: a receiver with outage modes, rule helpers."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from alerts.rules import Bound, Rule
from monitoring.clock import VirtualClock
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.servers import free_port


def alertmanager_config(webhook_url: str, resolve_timeout_s: int | None = None) -> str:
    """An Alertmanager config that sends every group to one webhook within a second."""
    head = "" if resolve_timeout_s is None else (
        f"global:\n  resolve_timeout: {resolve_timeout_s}s\n")
    return head + f"""\
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
"""


def rule(rule_id: str, metric: str, op: str, value: float, for_s: float = 60.0,
         severity: str = "critical") -> Rule:
    return Rule(rule_id, (Bound(metric, op, value),), for_s, severity,  # type: ignore[arg-type]
                f"{rule_id} summary", "runbook")


class FlakyReceiver:
    """A loopback JSON receiver that can answer 500, stall past the client's timeout,
    or be down (its port closed); ``accepted`` holds what it answered 2xx to in time."""

    def __init__(self, stall_s: float = 2.0) -> None:
        self.port = free_port()
        self.mode = "ok"  # ok | error | stall
        self.stall_s = stall_s
        self.accepted: list[dict[str, Any]] = []
        self.attempts = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FlakyReceiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner._lock:
                    owner.attempts += 1
                mode = owner.mode
                if mode == "stall":
                    time.sleep(owner.stall_s)  # the client gave up: not accepted
                    code = 200
                else:
                    code = 500 if mode == "error" else 200
                    if code == 200:
                        with owner._lock:
                            owner.accepted.append({"key": self.headers.get("Idempotency-Key"),
                                                   "body": json.loads(body)})
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def sealed_days(path: Path) -> set[int]:
    """The UTC days (epoch seconds) the embedded store at ``path`` holds as chunks."""
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT DISTINCT block FROM chunks")}


def write_minutes(path: Path, now: float, since_s: float,
                  scrape: Callable[[float], list[Point]]) -> None:
    """A live run that wrote a scrape every minute of [now - since_s, now], then stopped."""
    store = SQLiteStore(path, clock=VirtualClock(now))
    for t in np.arange(now - since_s, now + 1, 60.0):
        store.write(scrape(float(t)))
    store.close()
