import pytest

from engine.cluster import Cluster
from engine.faults import FAULT_KINDS
from tests.engine.conftest import body, sample

REC = body(user_id="u1", message="How do I prepare for a job interview?")


def test_l1_flush_empties_l1_then_misses(cluster: Cluster) -> None:
    cluster.request("us", "POST", "/v2/recommend", REC)
    assert sample(cluster, "us", "ion_cache_items", tier="l1") > 0
    misses = sample(cluster, "us", "ion_cache_misses_total", tier="l1")
    cluster.faults.start("l1_flush", "us")
    assert sample(cluster, "us", "ion_cache_items", tier="l1") == 0
    assert sample(cluster, "us", "ion_cache_memory_bytes", tier="l1") == 0
    cluster.request("us", "POST", "/v2/recommend", REC)
    assert sample(cluster, "us", "ion_cache_misses_total", tier="l1") == misses + 2
    assert sample(cluster, "us", "ion_cache_hits_total", tier="l2") >= 2  # L2 survived


def test_l2_down_counts_errors_and_keeps_serving(cluster: Cluster) -> None:
    cluster.faults.start("l2_down", "eu")
    cluster.faults.start("l2_down", "eu")  # idempotent
    assert cluster.request("eu", "POST", "/v2/recommend", REC).status == 200
    assert sample(cluster, "eu", "ion_cache_errors_total", tier="l2") >= 2
    assert sample(cluster, "us", "ion_cache_errors_total", tier="l2") == 0
    cluster.faults.stop("l2_down", "eu")
    errors = sample(cluster, "eu", "ion_cache_errors_total", tier="l2")
    cluster.request("eu", "POST", "/v2/recommend", body(user_id="u9", message="hi"))
    assert sample(cluster, "eu", "ion_cache_errors_total", tier="l2") == errors


def test_index_dropped_slows_history_queries(clock) -> None:
    # Default seed size: the scan must cross the slow-query threshold.
    from engine.config import EngineConfig
    with Cluster(EngineConfig(), clock) as cluster:
        cluster.faults.start("index_dropped", "asia")
        for i in range(5):
            cluster.request("asia", "POST", "/v2/recommend", body(user_id=f"u{i}", message="hi"))
        assert sample(cluster, "asia", "ion_db_query_duration_seconds_count",
                      query="user_history") == 5
        # Plans are asserted in test_db; here the histogram leaves its fast buckets.
        fast = sample(cluster, "asia", "ion_db_query_duration_seconds_bucket",
                      query="user_history", le="0.001")
        assert fast < 5
        cluster.faults.stop("index_dropped", "asia")


def test_builder_errors_give_5xx_and_count(cluster: Cluster) -> None:
    cluster.faults.start("builder_errors", "mentor", rate=1.0)
    resp = cluster.request("us", "POST", "/v2/recommend", REC)
    assert resp.status == 500 and resp.json()["error"] == "prompt builder failed"
    assert sample(cluster, "us", "ion_builder_errors_total", builder="mentor") == 1
    assert sample(cluster, "us", "ion_builder_calls_total", builder="mentor") == 1
    assert sample(cluster, "us", "ion_http_requests_total", endpoint="/v2/recommend",
                  code="500") == 1
    ok = body(user_id="u1", message="my python code has a bug")
    assert cluster.request("us", "POST", "/v2/recommend", ok).status == 200  # analyst
    cluster.faults.stop("builder_errors", "mentor")
    assert cluster.request("us", "POST", "/v2/recommend", REC).status == 200
    cluster.faults.start("builder_errors", "eu/mentor", rate=1.0)
    assert cluster.request("eu", "POST", "/v2/recommend", REC).status == 500
    assert cluster.request("asia", "POST", "/v2/recommend", REC).status == 200


def test_region_down_edge_503_and_registry_gone(cluster: Cluster) -> None:
    cluster.faults.start("region_down", "eu")
    resp = cluster.request("eu", "GET", "/v2/health")
    assert resp.status == 503 and "unavailable" in resp.json()["error"]
    assert "eu" not in cluster.registries()
    assert set(cluster.registries()) == {"edge", "us", "asia"}
    assert sample(cluster, "edge", "ion_edge_requests_total", region="eu", code="503") == 1
    cluster.faults.stop("region_down", "eu")
    assert cluster.request("eu", "GET", "/v2/health").status == 200
    assert "eu" in cluster.registries()


def test_primary_down_writes_fail_reads_work(cluster: Cluster) -> None:
    cluster.faults.start("region_down", "us")
    assert cluster.request("eu", "POST", "/v2/sessions", body(user_id="u1")).status == 503
    assert cluster.request("eu", "GET", "/v2/personas").status == 200
    cluster.faults.stop_all()
    assert cluster.faults.active() == []


def test_unknown_fault_and_targets_are_rejected(cluster: Cluster) -> None:
    assert len(FAULT_KINDS) == 13
    with pytest.raises(ValueError):
        cluster.faults.start("meteor", "us")
    with pytest.raises(ValueError):
        cluster.faults.start("replica_lag", "us")  # the primary is no replica
    with pytest.raises(ValueError):
        cluster.faults.start("builder_errors", "nobody")
    cluster.faults.stop("l2_down", "us")  # stopping an inactive fault is a no-op
