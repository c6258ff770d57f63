"""Shared pieces of the reliability tests: a receiver with outage modes, rule helpers."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from alerts.rules import Bound, Rule, write_rules
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


def _answer(handler: BaseHTTPRequestHandler, code: int) -> None:
    """An empty JSON answer; a client that gave up meanwhile is no error."""
    try:
        handler.send_response(code)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")
    except OSError:
        pass


def alerts_config(tmp: Path, rules: list[Rule], channels: dict[str, Any],
                  **sections: Any) -> Path:
    """A config file in ``tmp`` with its store, rules file and alert state there too."""
    write_rules(tmp / "rules.yaml", rules)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump({
        "store": {"path": str(tmp / "ionmon.db")},
        "alerts": {"rules_path": str(tmp / "rules.yaml"), "state_path": str(tmp / "alerts.db"),
                   "channels": channels},
        "output_dir": str(tmp / "out"), **sections,
    }))
    return path


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
                _answer(self, code)

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


class HungReceiver:
    """A loopback server that accepts every connection and never answers."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections.append(conn)  # held open, never read, never answered

    def stop(self) -> None:
        self._stopped.set()
        self._sock.close()
        for conn in self.connections:
            conn.close()

    def __enter__(self) -> HungReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LateReceiver:
    """Takes every POST (records its Idempotency-Key), then answers 200 only after
    ``delay_s``: past the client's timeout, the change was received all the same."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.keys: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner._lock:
                    owner.keys.append(self.headers.get("Idempotency-Key", ""))
                time.sleep(owner.delay_s)
                _answer(self, 200)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LateReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
