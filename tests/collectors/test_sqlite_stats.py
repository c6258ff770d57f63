"""SQLiteCollector on a temp database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from collectors.sqlite_stats import SQLiteCollector
from tests.collectors.clock import FixedClock, by_name, meta


def _make_db(path: Path, analyze: bool) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE samples (ts REAL, name TEXT, value REAL)")
    conn.execute("CREATE INDEX samples_name ON samples (name)")
    conn.execute("CREATE INDEX samples_ts ON samples (ts)")
    conn.execute('CREATE TABLE "odd ""name""" (x)')
    conn.executemany("INSERT INTO samples VALUES (?, 'm', 1)", [(i,) for i in range(500)])
    conn.execute('INSERT INTO "odd ""name""" VALUES (1)')
    if analyze:
        conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _rows(result) -> dict[str, float]:
    return {s.labels["table"]: s.value for s in by_name(result)["sqlite_table_rows"]}


def test_stats(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    _make_db(db, analyze=False)
    before = db.read_bytes()
    result = SQLiteCollector("store", db, FixedClock()).collect()
    assert result.up, result.reason
    names = by_name(result)
    assert names["sqlite_page_size_bytes"][0].value == 4096
    assert names["sqlite_page_count"][0].value >= 1
    assert names["sqlite_freelist_count"][0].value == 0
    assert names["sqlite_file_size_bytes"][0].value >= db.stat().st_size
    assert _rows(result) == {"samples": 500, 'odd "name"': 1}
    indexes = {s.labels["table"]: s.value for s in names["sqlite_table_indexes"]}
    assert indexes == {"samples": 2, 'odd "name"': 0}
    assert db.read_bytes() == before  # read-only


def test_row_estimates_from_analyze(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    _make_db(db, analyze=True)
    # With sqlite_stat1 present the count comes from it, so the cap does not apply.
    rows = _rows(SQLiteCollector("store", db, FixedClock(), row_count_cap=10).collect())
    assert rows == {"samples": 500, 'odd "name"': 1}


def test_count_is_bounded(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    _make_db(db, analyze=False)
    rows = _rows(SQLiteCollector("store", db, FixedClock(), row_count_cap=10).collect())
    assert rows == {"samples": 10, 'odd "name"': 1}


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    missing = SQLiteCollector("store", tmp_path / "nope.db", FixedClock()).collect()
    assert not missing.up and "nope.db" in missing.reason and meta(missing, "up") == 0.0
    assert not (tmp_path / "nope.db").exists()
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 100)
    corrupt = SQLiteCollector("store", bad, FixedClock()).collect()
    assert not corrupt.up and "bad.db" in corrupt.reason
