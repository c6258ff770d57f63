import pytest

from engine.clock import ManualClock
from engine.cluster import Cluster
from engine.config import DatabaseConfig, EngineConfig
from engine.db.schema import HISTORY_INDEX, INDEXES, USER_HISTORY_SQL
from tests.engine.conftest import START, body, sample

TABLES = {"personas", "user_preferences", "sessions", "analytics", "audit_log"}


def _check_backend(cluster: Cluster, plan_with: str, plan_without: str) -> None:
    db = cluster.regions["us"].db
    counts = {t: db.query("count", f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}
    assert counts["personas"] == 4 and counts["analytics"] == 2_000
    assert sample(cluster, "us", "ion_db_query_duration_seconds_count", query="count") == 5
    assert sample(cluster, "us", "ion_db_pool_busy_seconds_total") > 0
    assert sample(cluster, "us", "ion_db_pool_size") == 5
    assert plan_with in db.explain(USER_HISTORY_SQL, ("u1",))
    cluster.faults.start("index_dropped", "us")
    plan = db.explain(USER_HISTORY_SQL, ("u1",))
    assert plan_without in plan and HISTORY_INDEX not in plan
    cluster.faults.stop("index_dropped", "us")
    assert HISTORY_INDEX in db.explain(USER_HISTORY_SQL, ("u1",))


def test_sqlite_schema_indexes_and_plans(cluster: Cluster) -> None:
    db = cluster.regions["us"].db
    names = {r[0] for r in db.query("idx", "SELECT name FROM sqlite_master WHERE type='index'")}
    assert set(INDEXES) <= names
    _check_backend(cluster, "SEARCH analytics USING INDEX", "SCAN analytics")


def test_postgres_backend(postgres_server) -> None:
    config = EngineConfig(database=DatabaseConfig(backend="postgres", seed_rows=2_000,
                                                  seed_users=500,
                                                  postgres_dsn=postgres_server.dsn))
    with Cluster(config, ManualClock(START)) as cluster:
        db = cluster.regions["eu"].db
        names = {r[0] for r in db.query(
            "idx", "SELECT indexname FROM pg_indexes WHERE schemaname = 'ion_eu'")}
        assert set(INDEXES) <= names
        _check_backend(cluster, "Index", "Seq Scan")
        resp = cluster.request("us", "POST", "/v2/feedback",
                               body(user_id="u1", persona_id="coach", rating=5))
        assert resp.status == 200
        assert cluster.request("asia", "GET", "/v2/users/u1/preferences").status == 200


def test_writes_replicate_after_the_modelled_delay(cluster: Cluster, clock) -> None:
    resp = cluster.request("eu", "POST", "/v2/sessions", body(user_id="u7", persona_id="coach"))
    sid = resp.json()["id"]

    def rows(region: str) -> int:
        db = cluster.regions[region].db
        return len(db.query("t", "SELECT id FROM sessions WHERE id = ?", (sid,)))

    assert rows("us") == 1 and rows("eu") == 0  # committed on the primary only
    assert cluster.request("eu", "GET", f"/v2/sessions/{sid}").status == 404
    clock.advance(0.030)
    assert sample(cluster, "eu", "ion_db_replication_lag_seconds") == pytest.approx(0.030)
    clock.advance(0.011)  # eu applies after 40 ms
    cluster.tick()
    # caught up: the lag is the last write's replay lag, the modelled delay plus the
    # measured time to apply it
    lag = sample(cluster, "eu", "ion_db_replication_lag_seconds")
    assert 0.040 <= lag < 0.040 + 0.5
    assert rows("eu") == 1
    assert len(cluster.regions["asia"].replication) == 1  # asia waits 55 ms
    clock.advance(0.015)
    cluster.tick()
    assert len(cluster.regions["asia"].replication) == 0
    assert sample(cluster, "us", "ion_db_replication_lag_seconds") == 0.0


def test_replication_lag_grows_under_fault_and_recovers(cluster: Cluster, clock) -> None:
    cluster.faults.start("replica_lag", "asia")
    for i in range(5):
        cluster.request("us", "POST", "/v2/feedback",
                        body(user_id=f"u{i}", persona_id="mentor", rating=4))
        clock.advance(10)
        cluster.tick()
    assert sample(cluster, "asia", "ion_db_replication_lag_seconds") == pytest.approx(50)
    assert sample(cluster, "eu", "ion_db_replication_lag_seconds") < 1
    cluster.faults.stop("replica_lag", "asia")
    # the backlog is replayed on resume; the newest write waited 10 s for it
    assert sample(cluster, "asia", "ion_db_replication_lag_seconds") == pytest.approx(10, abs=0.5)
    cluster.request("us", "POST", "/v2/feedback",
                    body(user_id="u9", persona_id="mentor", rating=4))
    clock.advance(1)
    cluster.tick()
    assert sample(cluster, "asia", "ion_db_replication_lag_seconds") < 1
