import ast
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import engine.faults
from collectors.registry import RegistryCollector
from engine.clock import ManualClock
from engine.cluster import Cluster
from engine.config import TrafficConfig
from engine.faults import FAULT_KINDS, KINDS, check_target, resolve_params
from engine.traffic import TrafficModel
from monitoring.scrape import Scraper
from tests.engine.conftest import START, body, sample, small_config

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


# --- the faults for every rule: drive traffic, scrape, derive -------------------------

class Drive:
    """A small cluster served its modelled traffic minute by minute and scraped like
    a backfill does; ``phase`` returns one derived catalog metric per minute."""

    def __init__(self, cluster: Cluster, clock: ManualClock) -> None:
        self.cluster, self.clock = cluster, clock
        self.traffic = TrafficModel(cluster.config)
        cluster.faults.attach_traffic(self.traffic.demand)
        self.scraper = Scraper([RegistryCollector(n, (lambda n=n: cluster.registries().get(n)),
                                                  clock)
                                for n in ("edge", *cluster.regions)], window_scrapes=2)
        self.phase(3)  # warm caches and fill the rate window

    def minute(self) -> dict[str, float]:
        t0 = self.clock.now()
        for req in self.traffic.requests_for(t0, t0 + 60):
            self.clock.advance(max(0.0, req.ts - self.clock.now()))
            self.cluster.request(req.region, req.method, req.path, req.body)
        self.clock.advance(t0 + 60 - self.clock.now())
        self.cluster.tick()
        return self.scraper.cycle(self.clock.now()).values

    def phase(self, minutes: int, metric: str | None = None) -> list[float]:
        values = [self.minute() for _ in range(minutes)]
        # The first minute's window still spans the previous phase.
        return [v[metric] for v in values[1:] if metric in v] if metric else []


@pytest.fixture
def drive() -> Iterator[Drive]:
    clock = ManualClock(START + 14 * 3600)  # near the daily peak
    config = small_config(traffic=TrafficConfig(peak_requests_per_minute=240))
    with Cluster(config, clock) as cluster:
        yield Drive(cluster, clock)


def _median(xs: list[float]) -> float:
    assert xs, "no values derived"
    return statistics.median(xs)


def _moves(drive: Drive, metric: str, start: Callable[[], object], stop: Callable[[], None],
           minutes: int = 6) -> tuple[float, float, float]:
    """Median of ``metric`` before, during and after a fault."""
    before = _median(drive.phase(minutes, metric))
    start()
    during = _median(drive.phase(minutes, metric))
    stop()
    after = _median(drive.phase(minutes, metric))
    return before, during, after


@pytest.mark.parametrize(("severity", "at_least"), [("subtle", 1.5), ("loud", 3.0)])
def test_network_delay_raises_the_region_latency(drive: Drive, severity: str,
                                                 at_least: float) -> None:
    faults = drive.cluster.faults
    before, during, after = _moves(
        drive, "latency_p95_asia",
        lambda: faults.start("network_delay", "asia", severity=severity),
        lambda: faults.stop("network_delay", "asia"))
    assert during > at_least * before
    assert after < 1.3 * before
    assert drive.cluster.regions["asia"].network.factor == 1.0


@pytest.mark.parametrize(("kind", "params", "low", "high"), [
    ("traffic_surge", {}, 2.3, 3.8),
    ("traffic_surge", {"severity": "subtle"}, 1.2, 1.9),
    ("traffic_drop", {}, 0.2, 0.45),
])
def test_traffic_surge_and_drop_change_what_is_served(drive: Drive, kind: str,
                                                      params: dict, low: float,
                                                      high: float) -> None:
    faults = drive.cluster.faults
    before, during, after = _moves(drive, "request_rate",
                                   lambda: faults.start(kind, "all", **params),
                                   lambda: faults.stop(kind, "all"), minutes=8)
    assert low < during / before < high
    assert 0.75 < after / before < 1.3


def test_traffic_sag_declines_slowly_then_holds(drive: Drive) -> None:
    faults = drive.cluster.faults
    before = _median(drive.phase(6, "request_rate"))
    faults.start("traffic_sag", "all", ramp=600)  # loud: 40 % over ten minutes
    ramping = drive.phase(11, "request_rate")
    held = _median(drive.phase(8, "request_rate"))
    faults.stop("traffic_sag", "all")
    assert _median(ramping[:3]) > held  # gradual, not a step
    assert 0.45 < held / before < 0.75
    assert 0.75 < _median(drive.phase(8, "request_rate")) / before < 1.3


def test_traffic_faults_need_the_traffic_attached(cluster: Cluster) -> None:
    with pytest.raises(ValueError, match="attach_traffic"):
        cluster.faults.start("traffic_surge", "all")


def test_cpu_hog_burns_cpu_in_the_request_path(drive: Drive) -> None:
    faults = drive.cluster.faults
    before, during, after = _moves(drive, "cpu_usage",
                                   lambda: faults.start("cpu_hog", "us"),
                                   lambda: faults.stop("cpu_hog", "us"))
    assert during > 3 * before
    # Stopped: back within a third of the hog's rise. Other load on the machine moves the
    # request path's own CPU time by tens of percent, so "near before" is not a ratio.
    assert after - before < (during - before) / 3
    assert drive.cluster.regions["us"].api.extra_work is None


def test_memory_leak_grows_rss_and_stop_frees_it(drive: Drive) -> None:
    faults = drive.cluster.faults
    before = drive.phase(3, "memory_rss")[-1]
    faults.start("memory_leak", "eu", mb_per_min=20)
    leaking = drive.phase(5, "memory_rss")
    faults.stop("memory_leak", "eu")
    after = drive.phase(3, "memory_rss")[-1]
    assert leaking == sorted(leaking)  # it only grows
    assert leaking[-1] - before > 60  # MB: 20 a minute for 5 minutes
    assert after - before < 20


def test_db_pool_exhaustion_holds_connections(drive: Drive) -> None:
    faults = drive.cluster.faults
    pool = drive.cluster.regions["eu"].db.pool
    before = _median(drive.phase(6, "db_pool_utilisation"))
    fault = faults.start("db_pool_exhaustion", "eu")
    assert pool.in_use == 4 and fault.params == {"share": 0.8, "severity": "loud"}
    assert sample(drive.cluster, "eu", "ion_db_pool_in_use") == 4
    during = _median(drive.phase(6, "db_pool_utilisation"))
    # The region still answers from its one free connection.
    assert drive.cluster.request("eu", "GET", "/v2/personas").status == 200
    faults.stop("db_pool_exhaustion", "eu")
    assert pool.in_use == 0
    after = _median(drive.phase(6, "db_pool_utilisation"))
    # Busy time is wall time: held connections dwarf the queries' share of it (about
    # twenty-fold on an idle machine; less when other processes slow the queries down).
    assert during > 4 * before
    assert after < 3 * before


def test_subtle_builder_errors_fail_two_percent(cluster: Cluster) -> None:
    fault = cluster.faults.start("builder_errors", "us/mentor", severity="subtle")
    assert fault.params["rate"] == 0.02
    for i in range(3000):
        cluster.request("us", "POST", "/v2/recommend", body(user_id=f"u{i % 50}",
                                                             message="career advice"))
    calls = sample(cluster, "us", "ion_builder_calls_total", builder="mentor")
    errors = sample(cluster, "us", "ion_builder_errors_total", builder="mentor")
    assert calls == 3000
    assert 0.01 < errors / calls < 0.03


# --- severities, targets and the kind table -------------------------------------------

def test_severity_sets_the_factors_and_explicit_ones_win() -> None:
    assert resolve_params("network_delay", {}) == {"factor": 5.0, "severity": "loud"}
    assert resolve_params("network_delay", {"severity": "subtle"})["factor"] == 2.0
    assert resolve_params("cpu_hog", {"severity": "loud", "cpu_ms": 7}) == \
        {"cpu_ms": 7, "severity": "loud"}
    # Without a severity, explicit factors are labelled with the nearest one.
    assert resolve_params("builder_errors", {"rate": 0.03})["severity"] == "subtle"
    assert resolve_params("builder_errors", {"rate": 0.5})["severity"] == "loud"
    assert resolve_params("l1_flush", {}) == {"severity": "loud"}


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("network_delay", {"severity": "huge"}, "unknown severity 'huge'"),
    ("l2_down", {"severity": "subtle"}, "expected loud"),
    ("cpu_hog", {"cpu_ms": -1}, "cpu_ms must be a positive number"),
    ("memory_leak", {"gb": 1}, "unknown parameter 'gb'"),
    ("meteor", {}, "unknown fault kind 'meteor'"),
])
def test_bad_fault_params_are_named(kind: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_params(kind, params)


def test_targets_are_checked_by_kind() -> None:
    roles = {"us": "primary", "eu": "replica"}
    check_target("traffic_surge", "all", roles)
    check_target("builder_errors", "eu/coach", roles)
    with pytest.raises(ValueError, match="unknown region 'all'"):
        check_target("cpu_hog", "all", roles)
    with pytest.raises(ValueError, match="needs a replica region"):
        check_target("replica_lag", "us", roles)
    with pytest.raises(ValueError, match="region/builder"):
        check_target("builder_errors", "us", roles)


def test_every_kind_is_startable_and_stoppable(cluster: Cluster) -> None:
    cluster.faults.attach_traffic(TrafficModel(cluster.config).demand)
    for kind in FAULT_KINDS:
        target = {"replica": "eu", "builder": "us/coach"}.get(KINDS[kind].target, "asia")
        cluster.faults.start(kind, target, severity=KINDS[kind].severities[0])
        assert cluster.faults.is_active(kind, target)
    cluster.tick()
    cluster.faults.stop_all()
    assert cluster.faults.active() == []
    assert cluster.regions["asia"].api.extra_work is None
    assert cluster.request("asia", "GET", "/v2/health").status == 200


def test_faults_module_imports_no_cluster_or_region() -> None:
    tree = ast.parse(Path(engine.faults.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names}
    assert not imported & {"engine.cluster", "engine.region"}


def test_index_dropped_severities_drop_different_indexes(clock) -> None:
    from engine.db.schema import HISTORY_INDEX, SUMMARY_INDEX, USER_HISTORY_SQL
    summary = "SELECT persona_id, COUNT(*) FROM analytics WHERE ts >= ? GROUP BY persona_id"
    with Cluster(small_config(), clock) as cluster:
        db = cluster.regions["eu"].db
        cluster.faults.start("index_dropped", "eu")  # loud by default
        assert HISTORY_INDEX not in db.explain(USER_HISTORY_SQL, ("u1",))
        assert SUMMARY_INDEX in db.explain(summary, (START,))
        cluster.faults.stop("index_dropped", "eu")
        assert HISTORY_INDEX in db.explain(USER_HISTORY_SQL, ("u1",))
        cluster.faults.start("index_dropped", "eu", severity="subtle")
        assert HISTORY_INDEX in db.explain(USER_HISTORY_SQL, ("u1",))
        assert SUMMARY_INDEX not in db.explain(summary, (START,))
        cluster.faults.stop("index_dropped", "eu")
        assert SUMMARY_INDEX in db.explain(summary, (START,))
