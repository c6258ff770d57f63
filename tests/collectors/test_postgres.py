"""PostgresCollector against a real PostgreSQL: scans move, a dropped index shows."""

from __future__ import annotations

import psycopg

from collectors.postgres import PostgresCollector
from tests.collectors.clock import FixedClock, by_name, meta
from tests.servers import PostgresServer


def _table_value(result, name: str, table: str) -> float:
    (sample,) = [s for s in by_name(result).get(name, []) if s.labels["relname"] == table]
    return sample.value


def _run(dsn: str, *sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in sql:
            conn.execute(statement)
        conn.execute("SELECT pg_stat_force_next_flush()")  # stats are flushed lazily


def test_stats_move_and_dropped_index_shows(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.dsn
    _run(
        dsn,
        "SET enable_seqscan = off",
        "CREATE TABLE suggestions (id int PRIMARY KEY, persona text)",
        "CREATE INDEX suggestions_persona ON suggestions (persona)",
        "INSERT INTO suggestions SELECT g, 'p' || (g % 10) FROM generate_series(1, 2000) g",
        "ANALYZE suggestions",
    )
    collector = PostgresCollector("db", dsn, FixedClock(), timeout_s=2)
    before = collector.collect()
    assert before.up, before.reason
    names = by_name(before)
    for name in (
        "pg_stat_database_xact_commit_total",
        "pg_stat_database_xact_rollback_total",
        "pg_stat_database_blks_hit_total",
        "pg_stat_database_blks_read_total",
        "pg_stat_database_tup_fetched_total",
        "pg_stat_database_deadlocks_total",
        "pg_stat_database_numbackends",
        "pg_database_size_bytes",
        "pg_stat_activity_count",
    ):
        assert any(s.labels["datname"] == "ion" for s in names[name]), name
    states = {s.labels["state"] for s in names["pg_stat_activity_count"]}
    assert {"active", "idle", "idle in transaction"} <= states

    _run(dsn, *["SELECT * FROM suggestions WHERE persona = 'p3'"] * 5)
    after_idx = collector.collect()
    idx = "pg_stat_user_tables_idx_scan_total"
    seq = "pg_stat_user_tables_seq_scan_total"
    idx_before = _table_value(before, idx, "suggestions")
    assert _table_value(after_idx, idx, "suggestions") >= idx_before + 5

    _run(dsn, "DROP INDEX suggestions_persona")
    seq_before = _table_value(after_idx, seq, "suggestions")
    _run(dsn, *["SELECT * FROM suggestions WHERE persona = 'p3'"] * 5)
    after_drop = collector.collect()
    assert _table_value(after_drop, seq, "suggestions") >= seq_before + 5

    commits = by_name(after_drop)["pg_stat_database_xact_commit_total"]
    assert max(s.value for s in commits if s.labels["datname"] == "ion") > 0


def test_down_server_is_data(postgres_server: PostgresServer) -> None:
    collector = PostgresCollector("db", postgres_server.dsn, FixedClock(), timeout_s=2)
    postgres_server.stop()
    result = collector.collect()
    assert not result.up and meta(result, "up") == 0.0
    assert "db (" in result.reason and f":{postgres_server.port}/ion" in result.reason
    assert ":ion@" not in result.reason  # the password is redacted
    postgres_server.start()
    assert collector.collect().up
