"""Store damage is loud and local: a damaged file fails its open-time check, a damaged
chunk costs only its series and day, and the real SQLite error is the one raised.

Once, 4 KB of garbage mid-file went unnoticed, one bad chunk failed a whole dashboard
(zlib.error), and a full disk surfaced as "cannot rollback - no transaction is active".
"""

import sqlite3

import numpy as np
import pytest

from monitoring.store.base import Point, StoreCorrupt, StoreError, StoreFull
from monitoring.store.sqlite import BLOCK_S, SQLiteStore

DAY0 = 1_700_000_000 // BLOCK_S * BLOCK_S
SERIES = [f"m{i}" for i in range(6)]


def _fill(path, days: int = 4) -> SQLiteStore:
    store = SQLiteStore(path)
    rng = np.random.default_rng(5)
    for day in range(days):
        ts = DAY0 + day * BLOCK_S + np.arange(1440) * 60.0
        store.write([Point(name, t, float(v)) for name in SERIES
                     for t, v in zip(ts, rng.normal(50, 5, 1440), strict=True)])
    store.seal_all()
    return store


def test_garbage_mid_file_fails_the_open_time_check(tmp_path):
    path = tmp_path / "ionmon.db"
    _fill(path).close()
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(size // 2 // 4096 * 4096)
        fh.write(np.random.default_rng(1).bytes(4096))
    with pytest.raises(StoreCorrupt, match="integrity check failed") as err:
        SQLiteStore(path)
    assert str(path) in str(err.value) and "backup" in str(err.value)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "ionmon.db"
    path.write_bytes(b"not a database at all\n" * 400)
    with pytest.raises(StoreCorrupt, match="not a database"):
        SQLiteStore(path)


def test_a_damaged_chunk_costs_only_its_series_and_day(tmp_path):
    path = tmp_path / "ionmon.db"
    store = _fill(path)
    expected = store.read_many(SERIES, DAY0, DAY0 + 4 * BLOCK_S)
    store.close()
    with sqlite3.connect(path) as db:
        sid = db.execute("SELECT id FROM series WHERE name='m2'").fetchone()[0]
        (blob,) = db.execute("SELECT data FROM chunks WHERE series_id=? AND block=?",
                             (sid, DAY0 + BLOCK_S)).fetchone()
        damaged = bytearray(blob)
        damaged[len(damaged) // 2: len(damaged) // 2 + 64] = bytes(64)
        db.execute("UPDATE chunks SET data=? WHERE series_id=? AND block=?",
                   (bytes(damaged), sid, DAY0 + BLOCK_S))
    store = SQLiteStore(path)  # the file itself is sound
    got = store.read_many(SERIES, DAY0, DAY0 + 4 * BLOCK_S)
    for name in SERIES:
        if name == "m2":
            continue
        assert np.array_equal(got[name].values, expected[name].values)
        assert got[name].warnings == ()
    [warning] = got["m2"].warnings
    assert "m2" in warning and "day 2023-11-15" in warning
    lost = (expected["m2"].ts >= DAY0 + BLOCK_S) & (expected["m2"].ts < DAY0 + 2 * BLOCK_S)
    assert np.array_equal(got["m2"].ts, expected["m2"].ts[~lost])  # the other days remain
    stepped = store.read("m2", DAY0, DAY0 + 4 * BLOCK_S, step=3600)
    assert stepped.warnings == got["m2"].warnings


def test_a_full_disk_raises_the_real_error_and_the_store_carries_on(tmp_path):
    path = tmp_path / "ionmon.db"
    store = _fill(path, days=1)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages + 2}")
    big = [Point(f"new{i}", DAY0 + BLOCK_S + j * 60.0, float(j))
           for i in range(40) for j in range(1440)]
    with pytest.raises(StoreFull, match="database or disk is full") as err:
        store.write(big)
    assert "no transaction is active" not in str(err.value)
    assert isinstance(err.value, StoreError)
    assert store.read("new0", DAY0, DAY0 + 2 * BLOCK_S).values.size == 0  # none of it
    assert len(store.read("m0", DAY0, DAY0 + BLOCK_S)) == 1440  # what was there stays
    store._db.execute("PRAGMA max_page_count=1073741823")
    store.write(big[:10])
    assert len(store.read("new0", DAY0, DAY0 + 2 * BLOCK_S)) == 10
