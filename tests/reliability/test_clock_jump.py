"""A clock a day ahead cannot lock the store: the next writes with the right time land.

Once, one scrape run under a clock a day ahead sealed today's day, and every later
write was refused until the clock caught up (~22 h of no data).
"""

import numpy as np

from monitoring.clock import VirtualClock
from monitoring.store.base import Point
from monitoring.store.sqlite import BLOCK_S, SEAL_GRACE_S, SQLiteStore
from tests.reliability.helpers import sealed_days, write_minutes

DAY0 = 1_780_000_000 // BLOCK_S * BLOCK_S  # a UTC midnight
NOW = DAY0 + 10 * 3600.0  # 10:00 on that day
SERIES = ("availability", "p95_latency_ms", "error_rate")


def _scrape(t: float) -> list[Point]:
    return [Point(name, t, float(i) + t % 1000) for i, name in enumerate(SERIES)]


def test_a_writer_with_a_clock_a_day_ahead_does_not_lock_the_right_clock(tmp_path):
    path = tmp_path / "ionmon.db"
    write_minutes(path, NOW, 600, _scrape)
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
    assert sealed_days(path) == set()  # nothing sealed ahead of now: today stays open
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
    assert sealed_days(path) == set()
    store.write(_scrape(DAY0 + BLOCK_S - 30))  # a late scrape for the day before lands
    clock.set(DAY0 + BLOCK_S + SEAL_GRACE_S + 60)
    store.write(_scrape(clock.now()))
    assert sealed_days(path) == {DAY0}
    day = store.read("availability", DAY0, DAY0 + BLOCK_S - 1)
    assert day.ts.tolist() == [DAY0 + BLOCK_S - 60, DAY0 + BLOCK_S - 30]
