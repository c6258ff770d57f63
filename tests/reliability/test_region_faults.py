"""A region's /metrics down, slow (beyond the timeout) or answering garbage: the cycle
completes on time, the target is ``up = 0`` with the reason, and the region-down alert
fires, then resolves when the region is back."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts.evaluator import evaluate, store_query
from collectors.exposition import ExpositionCollector
from engine.cluster import EDGE, Cluster
from engine.config import EngineConfig
from monitoring.clock import VirtualClock
from monitoring.scrape import Scraper
from monitoring.store.sqlite import SQLiteStore
from tests.reliability.helpers import rule

TIMEOUT_S = 1.0
RULE = rule("region_or_l2_down", "regions_up", "<", 3, for_s=60)
REASONS = {"down": "connection failed", "slow": "timeout after 1s",
           "garbage": "malformed exposition"}


class _Proxy:
    """Stands in front of a region's /metrics: passes it through, stalls, or lies."""

    def __init__(self, upstream: str) -> None:
        owner = self
        self.mode = "pass"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if owner.mode == "slow":
                    time.sleep(TIMEOUT_S * 3)
                    body = b"up 1\n"
                elif owner.mode == "garbage":
                    body = b"\x00\x01 ion_http_requests_total{{{ NaN\n<html>oops</html>\n"
                else:
                    with urllib.request.urlopen(upstream, timeout=5) as resp:
                        body = resp.read()
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the scraper gave up first

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Cluster, dict[str, str]]]:
    with Cluster(EngineConfig(database={"seed_rows": 500, "seed_users": 50})) as c:
        yield c, c.start_http()


@pytest.mark.parametrize("fault", ["down", "slow", "garbage"])
def test_region_metrics_fault_is_data_and_alerts(tmp_path, cluster, fault):
    c, urls = cluster
    proxy = _Proxy(f"{urls['asia']}/metrics")
    clock = VirtualClock(1_800_000_000.0)
    asia_url = f"{urls['asia']}/metrics" if fault == "down" else proxy.url
    targets = {**{n: f"{u}/metrics" for n, u in urls.items()}, "asia": asia_url}
    scraper = Scraper([ExpositionCollector(n, u, clock, timeout_s=TIMEOUT_S)
                       for n, u in targets.items()], parallel=True)
    store = SQLiteStore(tmp_path / "ionmon.db", clock=clock)
    states: dict = {}
    transitions: list[str] = []
    try:
        for minute in range(9):
            broken = 2 <= minute <= 5
            if fault == "down":
                (c.faults.start if broken else c.faults.stop)("region_down", "asia")
            else:
                proxy.mode = fault if broken else "pass"
            clock.advance(60)
            began = time.monotonic()
            cycle = scraper.cycle(clock.now())
            took = time.monotonic() - began
            assert took < TIMEOUT_S + 1.5, f"cycle took {took:.1f}s"
            asia = next(h for h in cycle.health if h.target == "asia")
            others = [h for h in cycle.health if h.target != "asia"]
            assert all(h.up for h in others), others
            if broken:
                assert not asia.up and REASONS[fault] in (asia.reason or ""), asia
                assert cycle.values["regions_up"] == 2
            else:
                assert asia.up, asia
            store.write(cycle.points())
            states, changes = evaluate([RULE], clock.now(), store_query(store), states)
            transitions += [t.new for t in changes]
    finally:
        c.faults.stop("region_down", "asia")
        scraper.close()
        store.close()
        proxy.close()
    assert transitions == ["pending", "firing", "resolved"], transitions
    assert EDGE in targets
