"""SQLite file statistics → samples (pages, free pages, file sizes, rows and indexes).

The database is opened read-only, so collecting never creates or changes a file.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from urllib.request import pathname2url

from collectors.base import Sample, ScrapeResult
from collectors.scrape import Clock, finish

ROW_COUNT_CAP = 1_000_000  # count(*) stops here; bigger tables report the cap


class SQLiteCollector:
    def __init__(
        self,
        target: str,
        path: str | os.PathLike[str],
        clock: Clock,
        timeout_s: float = 5.0,
        row_count_cap: int = ROW_COUNT_CAP,
    ) -> None:
        self.target = target
        self.path = Path(path)
        self.clock = clock
        self.timeout_s = timeout_s
        self.row_count_cap = row_count_cap

    def collect(self) -> ScrapeResult:
        ts = self.clock.now()
        started = time.perf_counter()
        where = f"{self.target} ({self.path})"
        if not self.path.is_file():
            return finish(self.target, ts, started, reason=f"{where}: no such database file")
        try:
            samples = self._query(ts)
        except sqlite3.Error as exc:
            return finish(self.target, ts, started, reason=f"{where}: {exc}")
        return finish(self.target, ts, started, samples)

    def _query(self, ts: float) -> list[Sample]:
        uri = f"file:{pathname2url(str(self.path.resolve()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=self.timeout_s)
        try:
            samples = [
                Sample(f"sqlite_{name}", {}, float(_pragma(conn, pragma)), ts)
                for pragma, name in (
                    ("page_count", "page_count"),
                    ("page_size", "page_size_bytes"),
                    ("freelist_count", "freelist_count"),
                )
            ]
            db_size = self.path.stat().st_size
            wal_size = _size(self.path.with_name(self.path.name + "-wal"))
            samples.append(Sample("sqlite_file_size_bytes", {}, float(db_size + wal_size), ts))
            samples.append(Sample("sqlite_wal_size_bytes", {}, float(wal_size), ts))
            stat_rows = _stat1_rows(conn)
            indexes = _index_counts(conn)
            for table in _tables(conn):
                labels = {"table": table}
                rows = stat_rows.get(table)
                if rows is None:
                    rows = _bounded_count(conn, table, self.row_count_cap)
                samples.append(Sample("sqlite_table_rows", labels, float(rows), ts))
                samples.append(
                    Sample("sqlite_table_indexes", labels, float(indexes.get(table, 0)), ts)
                )
            return samples
        finally:
            conn.close()


def _pragma(conn: sqlite3.Connection, name: str) -> int:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [r[0] for r in rows]


def _index_counts(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute(
        "SELECT tbl_name, count(*) FROM sqlite_schema WHERE type = 'index' GROUP BY tbl_name"
    )
    return dict(rows.fetchall())


def _stat1_rows(conn: sqlite3.Connection) -> dict[str, int]:
    """Row estimates from ANALYZE (``sqlite_stat1``), when the table exists."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).fetchone()
    if not exists:
        return {}
    out: dict[str, int] = {}
    for tbl, stat in conn.execute("SELECT tbl, stat FROM sqlite_stat1"):
        # The first number of ``stat`` is the table's row count (same for every index).
        head = str(stat).split(" ", 1)[0]
        if head.isdigit():
            out[tbl] = int(head)
    return out


def _bounded_count(conn: sqlite3.Connection, table: str, cap: int) -> int:
    quoted = '"' + table.replace('"', '""') + '"'
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT ?)"
    return conn.execute(sql, (cap,)).fetchone()[0]
