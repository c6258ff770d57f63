"""Prometheus down, slow, failing or rejecting a query: clear errors, retries, no crash."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitoring.app.config import parse_config
from monitoring.app.jobs import JobContext, build_jobs
from monitoring.app.scheduler import JobRunner, JobStateDB
from monitoring.app.stores import open_store
from monitoring.store.base import Point, StoreError
from monitoring.store.prometheus import (
    PrometheusError,
    PrometheusQueryError,
    PrometheusStore,
    RetryPolicy,
)
from tests.servers import free_port

NOW = 1_800_000_000.0
OK = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {}, "values": [[NOW - 60, "1.5"], [NOW, "NaN"]]}]}}

Reply = tuple[int, dict, float]  # status, JSON body, seconds to wait first


class FakePrometheus:
    """An HTTP server answering each request with the next scripted reply."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append((self.path, dict(self.headers)))
                status, body, wait = fake.replies.pop(0) if fake.replies else (200, OK, 0)
                time.sleep(wait)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[Callable[[list[Reply]], FakePrometheus]]:
    servers: list[FakePrometheus] = []

    def make(replies: list[Reply]) -> FakePrometheus:
        servers.append(FakePrometheus(replies))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _store(url: str, sleeps: list[float] | None = None, **kw) -> PrometheusStore:
    sink = sleeps if sleeps is not None else []
    return PrometheusStore(url, clock=lambda: NOW, sleep=sink.append, **kw)


def test_down_names_the_url_and_retries_with_backoff():
    port = free_port()  # nothing listens here
    sleeps: list[float] = []
    store = _store(f"http://admin:hunter2@127.0.0.1:{port}", sleeps,
                   retry=RetryPolicy(retries=3, backoff_s=0.5))
    with pytest.raises(PrometheusError) as err:
        store.read("request_rate", NOW - 600, NOW)
    text = str(err.value)
    assert f"Prometheus at http://127.0.0.1:{port}" in text
    assert "cannot connect" in text and "4 attempts" in text and "request_rate" in text
    assert "hunter2" not in text and "admin" not in text
    assert sleeps == [0.5, 1.0, 2.0]
    assert err.value.attempts == 4


def test_slow_server_times_out_with_the_timeout_in_the_message(fake):
    server = fake([(200, OK, 1.0), (200, OK, 1.0)])
    store = _store(server.url, timeout_s=0.2, retry=RetryPolicy(retries=1, backoff_s=0))
    began = time.monotonic()
    with pytest.raises(PrometheusError, match=r"no answer within 0\.2 s .*2 attempts"):
        store.read("latency_p95", NOW - 600, NOW)
    assert time.monotonic() - began < 1.5


def test_server_errors_are_retried_then_succeed(fake):
    server = fake([(503, {"status": "error", "error": "busy"}, 0),
                   (429, {"status": "error", "error": "slow down"}, 0)])
    sleeps: list[float] = []
    store = _store(server.url, sleeps, retry=RetryPolicy(retries=2, backoff_s=0.1))
    series = store.read("request_rate", NOW - 60, NOW)
    assert series.ts.tolist() == [NOW - 60] and series.values.tolist() == [1.5]  # NaN dropped
    assert len(server.requests) == 3 and sleeps == [0.1, 0.2]


def test_a_rejected_query_names_the_metric_and_is_not_retried(fake):
    server = fake([(400, {"status": "error", "errorType": "bad_data",
                          "error": "1:5: parse error: unclosed left parenthesis"}, 0)])
    store = _store(server.url, queries={"latency_p50": "sum(rate(x[5m]"})
    with pytest.raises(PrometheusQueryError) as err:
        store.read("latency_p50", NOW - 600, NOW)
    assert err.value.metric_id == "latency_p50"
    assert "'latency_p50'" in str(err.value) and "parse error" in str(err.value)
    assert "sum(rate(x[5m]" in str(err.value)
    assert len(server.requests) == 1


def test_credentials_are_sent_and_a_refusal_says_so(fake):
    server = fake([(200, OK, 0), (401, {"status": "error", "error": "unauthorized"}, 0)])
    _store(server.url, bearer_token="t0k3n").read("request_rate", NOW - 60, NOW)
    assert server.requests[0][1]["Authorization"] == "Bearer t0k3n"
    with pytest.raises(PrometheusError, match="not authorised") as err:
        _store(server.url, username="u", password="p").read("request_rate", NOW - 60, NOW)
    assert server.requests[1][1]["Authorization"].startswith("Basic ")
    assert "t0k3n" not in str(err.value)


def test_writes_are_refused_and_unknown_ids_named(fake):
    server = fake([])
    store = _store(server.url)
    with pytest.raises(StoreError, match="read-only: Prometheus scrapes its own data"):
        store.write([Point("request_rate", NOW, 1.0)])
    store.write([])  # nothing to write is not an error
    with pytest.raises(StoreError, match="no query for 'nope'"):
        store.read("nope", NOW - 60, NOW)


def test_long_and_unbounded_ranges_are_split_and_cut(fake):
    server = fake([])
    store = _store(server.url, history_s=30 * 86400)
    store.read("request_rate", 0, 4e9)  # "everything": cut to the history kept, then split
    starts = [float(path.split("start=")[1].split("&")[0]) for path, _ in server.requests]
    assert len(starts) == 4  # 43,201 one-minute points in pieces of at most 11,000
    assert starts[0] == pytest.approx(NOW - 30 * 86400, abs=60)
    # A coarse step over a long range asks for the step's grid points only.
    server.requests.clear()
    store.read("request_rate", NOW - 20 * 86400, NOW, step=3600)
    assert len(server.requests) == 1 and "step=3600" in server.requests[0][0]


def test_serve_jobs_record_the_failure_and_keep_going(tmp_path):
    port = free_port()
    config = parse_config({
        "store": {"backend": "prometheus", "path": str(tmp_path / "ionmon.db"),
                  "prometheus": {"url": f"http://127.0.0.1:{port}", "timeout": "1s",
                                 "retries": 0}},
        "alerts": {"rules_path": str(tmp_path / "rules.yaml"),
                   "state_path": str(tmp_path / "alerts.db")},
        "output_dir": str(tmp_path / "out"),
    })
    store = open_store(config)
    assert isinstance(store, PrometheusStore)
    state = JobStateDB(tmp_path / "scheduler.db")
    ctx = JobContext(config, store, state)
    runner = JobRunner(state)
    now = time.time()
    runs = {spec.name: runner.run(spec, now) for spec in build_jobs(ctx)
            if spec.name in ("dashboards", "weekly_report")}
    assert runs and not any(r.ok for r in runs.values())
    for run in runs.values():
        assert f"Prometheus at http://127.0.0.1:{port}" in run.detail, run.detail
    recorded = {j.job: j for j in state.jobs()}
    assert recorded["dashboards"].last_outcome == "error"
    state.close()
