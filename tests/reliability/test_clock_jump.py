"""A clock a day ahead cannot lock the store: the next writes with the right time land.

Once, one scrape run under a clock a day ahead sealed today's day, and every later
write was refused until the clock caught up (~22 h of no data).
"""

import sqlite3

import numpy as np

from monitoring.clock import VirtualClock
from monitoring.store.base import Point
from monitoring.store.sqlite import BLOCK_S, SEAL_GRACE_S, SQLiteStore

DAY0 = 1_780_000_000 // BLOCK_S * BLOCK_S  # a UTC midnight
NOW = DAY0 + 10 * 3600.0  # 10:00 on that day
SERIES = ("availability", "p95_latency_ms", "error_rate")


def _scrape(t: float) -> list[Point]:
    return [Point(name, t, float(i) + t % 1000) for i, name in enumerate(SERIES)]


def _chunks(path) -> list[tuple[int, int]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT series_id, block FROM chunks ORDER BY 1, 2").fetchall()


def test_a_writer_with_a_clock_a_day_ahead_does_not_lock_the_right_clock(tmp_path):
    path = tmp_path / "ionmon.db"
    store = SQLiteStore(path, clock=VirtualClock(NOW))
    for t in np.arange(NOW - 600, NOW + 1, 60.0):
        store.write(_scrape(t))
    store.close()
    # one scrape from a process whose whole clock is a day ahead (faketime -f '+1d')
    ahead = SQLiteStore(path, clock=VirtualClock(NOW + BLOCK_S))
    assert ahead.write(_scrape(NOW + BLOCK_S)).written == len(SERIES)
    ahead.close()
    clock = VirtualClock(NOW + 60)
    store = SQLiteStore(path, clock=clock)
    for _ in range(30):  # the right clock carries on: every scrape lands
        result = store.write(_scrape(clock.now()))
        assert result.written == len(SERIES) and not result.refused
        clock.advance(60)
    store.close()
    store = SQLiteStore(path)
    got = store.read("availability", NOW - 600, NOW + 31 * 60)
    assert got.ts.tolist() == list(np.arange(NOW - 600, NOW + 30 * 60 + 1, 60.0))
    assert not got.warnings


def test_a_sample_from_the_future_is_refused_with_a_reason_and_counted(tmp_path):
    path = tmp_path / "ionmon.db"
    clock = VirtualClock(NOW)
    store = SQLiteStore(path, clock=clock)
    store.write(_scrape(NOW - 60))
    # a scrape stamped a day ahead (the scheduler's clock jumped; the store's did not)
    result = store.write([*_scrape(NOW + BLOCK_S), Point("availability", NOW, 99.0)])
    assert result.written == 1
    assert result.refused == {"future": len(SERIES)}
    assert "ahead of the store's clock" in (result.first_refusal or "")
    assert store.refused["future"] == len(SERIES)
    assert _chunks(path) == []  # nothing sealed ahead of now: today stays open
    clock.advance(60)
    assert store.write(_scrape(NOW + 60)).written == len(SERIES)
    assert store.read("availability", NOW - 60, NOW + 2 * BLOCK_S).ts.tolist() == [
        NOW - 60, NOW, NOW + 60]
    # within the tolerance is not the future
    assert store.write(_scrape(clock.now() + 120)).written == len(SERIES)


def test_a_day_is_sealed_only_once_over_by_the_clock_and_the_grace(tmp_path):
    path = tmp_path / "ionmon.db"
    clock = VirtualClock(DAY0 + BLOCK_S - 60)
    store = SQLiteStore(path, clock=clock)
    store.write(_scrape(clock.now()))  # 23:59
    clock.set(DAY0 + BLOCK_S + 60)
    store.write(_scrape(clock.now()))  # 00:01 the next day: within the grace
    assert _chunks(path) == []
    store.write(_scrape(DAY0 + BLOCK_S - 30))  # a late scrape for the day before lands
    clock.set(DAY0 + BLOCK_S + SEAL_GRACE_S + 60)
    store.write(_scrape(clock.now()))
    assert {block for _, block in _chunks(path)} == {DAY0}
    day = store.read("availability", DAY0, DAY0 + BLOCK_S - 1)
    assert day.ts.tolist() == [DAY0 + BLOCK_S - 60, DAY0 + BLOCK_S - 30]
