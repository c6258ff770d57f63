"""Every endpoint over real HTTP (urllib), errors as JSON, /metrics as exposition."""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.cluster import Cluster
from tests.engine.conftest import body

ENDPOINTS = [
    ("GET", "/v2/health", None),
    ("GET", "/v2/personas", None),
    ("GET", "/v2/personas/analyst", None),
    ("POST", "/v2/route", {"message": "help me write a poem"}),
    ("POST", "/v2/recommend", {"user_id": "u3", "message": "my code has a bug"}),
    ("POST", "/v2/sessions", {"user_id": "u3", "persona_id": "coach"}),
    ("GET", "/v2/sessions/s1", None),
    ("POST", "/v2/feedback", {"user_id": "u3", "persona_id": "coach", "rating": 4}),
    ("GET", "/v2/users/u3/preferences", None),
    ("PUT", "/v2/users/u3/preferences", {"tone": "direct", "language": "de"}),
    ("POST", "/v2/bulk-process", {"items": [{"user_id": "u1", "message": "hi"},
                                            {"user_id": "u2", "message": "data trend"}]}),
    ("GET", "/v2/analytics/summary?window_s=86400", None),
    ("POST", "/v1/recommend", {"user": "u4", "text": "I feel stressed"}),
    ("POST", "/v1/route", {"text": "design a logo"}),
]


def call(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes, str]:
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")


@pytest.fixture
def urls(cluster: Cluster) -> Iterator[dict[str, str]]:
    yield cluster.start_http()
    cluster.stop_http()


def test_start_http_serves_every_target_on_loopback(urls: dict[str, str]) -> None:
    assert set(urls) == {"edge", "us", "eu", "asia"}
    assert len(set(urls.values())) == 4
    assert all(u.startswith("http://127.0.0.1:") for u in urls.values())


@pytest.mark.parametrize(("method", "path", "payload"), ENDPOINTS)
def test_endpoint_over_http(urls: dict[str, str], method: str, path: str, payload) -> None:
    data = None if payload is None else json.dumps(payload).encode()
    status, raw, ctype = call(urls["us"] + path, method, data)
    assert 200 <= status < 300, raw
    assert ctype == "application/json"
    json.loads(raw)


def test_edge_forwards_by_region_prefix(urls: dict[str, str]) -> None:
    status, raw, _ = call(urls["edge"] + "/asia/v2/health")
    assert status == 200 and json.loads(raw)["region"] == "asia"
    assert call(urls["edge"] + "/mars/v2/health")[0] == 404


@pytest.mark.parametrize(("method", "path", "data", "code"), [
    ("POST", "/v2/recommend", b"{not json", 400),
    ("POST", "/v2/recommend", body(user_id="u1"), 422),
    ("POST", "/v2/recommend", body(user_id="u1", message="x", extra=1), 422),
    ("POST", "/v2/feedback", body(user_id="u1", persona_id="coach", rating=9), 422),
    ("GET", "/v2/nope", None, 404),
    ("GET", "/v2/personas/oracle", None, 404),
    ("DELETE", "/v2/personas", None, 405),
    ("GET", "/v2/users/bad%20id/preferences", None, 400),
    ("GET", "/v2/analytics/summary?window_s=abc", None, 400),
    ("POST", "/v2/route", b"x" * (65 * 1024), 413),
])
def test_bad_requests_get_4xx_json_reason(urls: dict[str, str], method: str, path: str,
                                          data: bytes | None, code: int) -> None:
    status, raw, _ = call(urls["eu"] + path, method, data)
    assert status == code
    reply = json.loads(raw)
    assert reply["error"] and "Traceback" not in reply["error"]


def test_oversized_body_in_process(cluster: Cluster) -> None:
    resp = cluster.request("us", "POST", "/v2/route", b"x" * (65 * 1024))
    assert resp.status == 413 and "exceeds" in resp.json()["error"]


def test_metrics_is_valid_exposition(urls: dict[str, str]) -> None:
    call(urls["us"] + "/v2/recommend", "POST", body(user_id="u1", message="hi"))
    status, raw, ctype = call(urls["us"] + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(raw.decode())}
    expected = {
        "ion_http_requests": "counter", "ion_http_request_duration_seconds": "histogram",
        "ion_http_requests_in_flight": "gauge", "ion_builder_calls": "counter",
        "ion_builder_errors": "counter", "ion_router_decisions": "counter",
        "ion_cache_hits": "counter", "ion_cache_misses": "counter",
        "ion_cache_evictions": "counter", "ion_cache_errors": "counter",
        "ion_cache_items": "gauge", "ion_cache_memory_bytes": "gauge",
        "ion_db_query_duration_seconds": "histogram", "ion_db_slow_queries": "counter",
        "ion_db_errors": "counter", "ion_db_pool_size": "gauge", "ion_db_pool_in_use": "gauge",
        "ion_db_pool_busy_seconds": "counter", "ion_db_replication_lag_seconds": "gauge",
        "ion_cpu_seconds": "counter",
    }
    assert {n: families[n].type for n in expected} == expected
    assert all(s.labels["region"] == "us" for f in families.values() for s in f.samples)
    assert "process_resident_memory_bytes" not in raw.decode()
    edge = call(urls["edge"] + "/metrics")[1].decode()
    assert edge.count("\nprocess_resident_memory_bytes ") == 1
    assert "ion_edge_requests_total" in edge


def test_region_down_stops_its_port_and_edge_returns_503(cluster: Cluster,
                                                         urls: dict[str, str]) -> None:
    cluster.faults.start("region_down", "eu")
    assert call(urls["edge"] + "/eu/v2/health")[0] == 503
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(urls["eu"] + "/metrics", timeout=2)
    cluster.faults.stop("region_down", "eu")
    assert call(urls["eu"] + "/metrics")[0] == 200  # back on the same port


def test_metrics_disabled_records_nothing(clock) -> None:
    from tests.engine.conftest import small_config
    with Cluster(small_config(metrics_enabled=False), clock) as cluster:
        assert cluster.request("us", "GET", "/v2/health").status == 200
        assert cluster.registries()["us"].get_sample_value(
            "ion_http_requests_total",
            {"region": "us", "endpoint": "/v2/health", "code": "200"}) is None
