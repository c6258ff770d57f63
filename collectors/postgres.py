"""PostgreSQL statistics → samples (pg_stat_database, activity, sizes, table scans).

Per-table seq/idx scan counters come from the database in the DSN, so a dropped
index shows up as ``pg_stat_user_tables_seq_scan_total`` rising for its table.
"""

from __future__ import annotations

import math
import time

import psycopg

from collectors.base import Sample, ScrapeResult
from collectors.redact import redact
from collectors.scrape import Clock, finish

_DATABASE_COLUMNS = {
    "xact_commit": "pg_stat_database_xact_commit_total",
    "xact_rollback": "pg_stat_database_xact_rollback_total",
    "blks_hit": "pg_stat_database_blks_hit_total",
    "blks_read": "pg_stat_database_blks_read_total",
    "tup_fetched": "pg_stat_database_tup_fetched_total",
    "deadlocks": "pg_stat_database_deadlocks_total",
    "numbackends": "pg_stat_database_numbackends",
}

_DATABASE_SQL = f"""
SELECT d.datname, {", ".join(f"s.{c}" for c in _DATABASE_COLUMNS)},
       CASE WHEN has_database_privilege(d.datname, 'CONNECT')
            THEN pg_database_size(d.datname) END
FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid
WHERE NOT d.datistemplate
"""

# Every state for every database, so a state that empties reports 0 instead of vanishing.
_ACTIVITY_SQL = """
SELECT d.datname, st.state, count(a.pid)
FROM pg_database d
CROSS JOIN unnest(ARRAY['active', 'idle', 'idle in transaction',
                        'idle in transaction (aborted)', 'fastpath function call',
                        'disabled']) AS st(state)
LEFT JOIN pg_stat_activity a
       ON a.datname = d.datname AND a.state = st.state AND a.pid <> pg_backend_pid()
WHERE NOT d.datistemplate
GROUP BY d.datname, st.state
"""

_TABLES_SQL = """
SELECT current_database(), schemaname, relname, seq_scan, idx_scan
FROM pg_stat_user_tables
"""


class PostgresCollector:
    def __init__(self, target: str, dsn: str, clock: Clock, timeout_s: float = 5.0) -> None:
        self.target = target
        self.dsn = dsn
        self.clock = clock
        self.timeout_s = timeout_s

    def collect(self) -> ScrapeResult:
        ts = self.clock.now()
        started = time.perf_counter()
        try:
            samples = self._query(ts)
        except psycopg.errors.QueryCanceled:
            reason = f"{self._where()}: statement timeout after {self.timeout_s:g}s"
            return finish(self.target, ts, started, reason=reason)
        except psycopg.Error as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return finish(self.target, ts, started, reason=f"{self._where()}: {detail}")
        return finish(self.target, ts, started, samples)

    def _query(self, ts: float) -> list[Sample]:
        timeout_ms = int(self.timeout_s * 1000)
        with psycopg.connect(
            self.dsn,
            autocommit=True,
            # libpq takes whole seconds (and treats 1 as 2); the statement timeout
            # bounds the queries themselves.
            connect_timeout=max(2, math.ceil(self.timeout_s)),
            options=f"-c statement_timeout={timeout_ms}",
            application_name="ionmon-collector",
        ) as conn:
            samples: list[Sample] = []
            for row in conn.execute(_DATABASE_SQL):
                datname, *values, size = row
                labels = {"datname": datname}
                for name, value in zip(_DATABASE_COLUMNS.values(), values, strict=True):
                    if value is not None:
                        samples.append(Sample(name, labels, float(value), ts))
                if size is not None:
                    samples.append(Sample("pg_database_size_bytes", labels, float(size), ts))
            for datname, state, count in conn.execute(_ACTIVITY_SQL):
                labels = {"datname": datname, "state": state}
                samples.append(Sample("pg_stat_activity_count", labels, float(count), ts))
            for datname, schema, table, seq_scan, idx_scan in conn.execute(_TABLES_SQL):
                labels = {"datname": datname, "schemaname": schema, "relname": table}
                samples.append(
                    Sample("pg_stat_user_tables_seq_scan_total", labels, float(seq_scan), ts)
                )
                if idx_scan is not None:  # NULL when the table has no index
                    samples.append(
                        Sample("pg_stat_user_tables_idx_scan_total", labels, float(idx_scan), ts)
                    )
            return samples

    def _where(self) -> str:
        return f"{self.target} ({redact(self.dsn)})"
