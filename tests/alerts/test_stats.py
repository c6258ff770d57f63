import numpy as np

from alerts.stats import fit_baseline, is_weekend, robust_sigma
from tests.alerts.synth import T0

TS = T0 + np.arange(7 * 1440) * 60.0


def test_diurnal_series_is_seasonal_and_noise_is_not():
    rng = np.random.default_rng(1)
    hour = (TS % 86400) / 3600
    daily = 100 + 50 * np.sin(hour / 24 * 2 * np.pi) + rng.normal(0, 2, TS.size)
    flat = 100 + rng.normal(0, 2, TS.size)
    b = fit_baseline(TS, daily)
    assert b.seasonal and b.explained > 0.9
    # The per-hour sigma is the noise plus the within-hour slope, far below the swing.
    assert b.sigma < 8
    f = fit_baseline(TS, flat)
    assert not f.seasonal and abs(f.sigma - 2) < 0.1 and abs(f.center - 100) < 0.1


def test_sigma_is_robust_to_outliers_and_never_zero():
    rng = np.random.default_rng(2)
    v = rng.normal(0, 1, 10_000)
    v[:300] = 1e6  # 3 % wild outliers barely move the MAD
    assert abs(robust_sigma(v) - 1) < 0.1
    # More than half equal: MAD is 0, the mean absolute deviation takes over.
    mostly_zero = np.r_[np.zeros(900), np.ones(100)]
    assert robust_sigma(mostly_zero) > 0
    assert robust_sigma(np.full(10, 3.0), level=3.0) > 0


def test_one_day_is_not_enough_to_call_a_series_seasonal():
    hour = (TS[:1440] % 86400) / 3600
    b = fit_baseline(TS[:1440], np.sin(hour / 24 * 2 * np.pi))
    assert not b.seasonal


def test_weekend_shape_is_kept_when_it_explains_what_the_daily_profile_leaves():
    rng = np.random.default_rng(3)
    hour = (TS % 86400) / 3600
    daily = 100 + 50 * np.sin(hour / 24 * 2 * np.pi)
    # Weekends run at a third of the weekday level: a daily profile cannot hold both.
    weekend = is_weekend(TS)
    v = np.where(weekend, daily / 3, daily) + rng.normal(0, 2, TS.size)
    b = fit_baseline(TS, v)
    assert b.weekly and len(b.hourly) == 48
    sat_noon = T0 + 2 * 86400 + 12 * 3600  # 2026-01-03 is a Saturday
    assert abs(b.expected(np.array([sat_noon]))[0] - 100 / 3) < 3
    assert b.sigma < 8
    # The same shape every day: the daily profile is enough.
    d = fit_baseline(TS, daily + rng.normal(0, 2, TS.size))
    assert d.seasonal and not d.weekly


def test_tail_sigma_follows_a_heavy_tail_and_not_the_faults():
    rng = np.random.default_rng(4)
    gauss = rng.normal(10, 1, TS.size)
    b = fit_baseline(TS, gauss)
    assert abs(b.tail / b.sigma - 1) < 0.15
    heavy = 10 + rng.pareto(1.5, TS.size)
    h = fit_baseline(TS, heavy)
    assert h.tail > 5 * h.sigma
    # Rows marked not normal (a recorded fault) do not widen the tail.
    spiky = gauss.copy()
    spiky[:200] = 1e4
    normal = np.ones(TS.size, dtype=bool)
    normal[:200] = False
    assert fit_baseline(TS, spiky, normal=normal).tail < 2 * b.tail
    assert fit_baseline(TS, spiky).tail > 100


def test_a_count_near_its_limit_gets_counting_noise_as_its_sigma() -> None:
    from alerts.stats import with_counting_floor
    rng = np.random.default_rng(3)
    ts = T0 + np.arange(3 * 1440) * 60.0
    values = 1536.0 - rng.integers(0, 4, ts.size)  # a cache at its size limit
    b = fit_baseline(ts, values)
    assert b.sigma < 3  # MAD of a few entries: a dip of ten would be many sigmas
    floored = with_counting_floor(b)
    assert floored.sigma == np.sqrt(b.center)
    assert floored.tail >= floored.sigma
    assert (1536 - 10 - floored.center) / floored.sigma > -1  # ten entries: noise
    assert (0 - floored.center) / floored.sigma < -30  # a flush: far out
    wide = fit_baseline(ts, 1000.0 + 100 * rng.standard_normal(ts.size))
    assert with_counting_floor(wide) == wide  # a spread above sqrt(N) is kept


def test_the_weekend_is_read_on_the_clock_that_fits_it():
    rng = np.random.default_rng(5)
    hour = (TS % 86400) / 3600
    daily = 100 + 50 * np.sin(hour / 24 * 2 * np.pi)
    # A region eight hours ahead of UTC: its weekend starts at Friday 16:00 UTC.
    v = np.where(is_weekend(TS, 8), daily / 3, daily) + rng.normal(0, 2, TS.size)
    b = fit_baseline(TS, v, weekend_offsets=(0, -5, 1, 8))
    assert b.weekly and b.weekend_offset_h == 8
    friday_20h_utc = T0 + 86400 + 20 * 3600  # 2026-01-02, Saturday 04:00 at UTC+8
    assert abs(b.expected(np.array([friday_20h_utc]))[0] - daily[1440 + 1200] / 3) < 5
    # On UTC alone the weekly profile misreads eight hours of each weekend: its tail
    # (what a threshold has to clear) is several times wider.
    utc = fit_baseline(TS, v)
    assert utc.weekend_offset_h == 0 and utc.tail > 4 * b.tail


def test_a_per_hour_spread_is_kept_only_where_the_noise_follows_the_hour():
    rng = np.random.default_rng(6)
    hour = (TS % 86400) // 3600
    level = 100 + 50 * np.sin(hour / 24 * 2 * np.pi)
    # Counting noise: the busy hours swing several times more than the quiet ones.
    counts = level + np.sqrt(level) * (0.2 + (hour >= 12)) * rng.standard_normal(TS.size)
    b = fit_baseline(TS, counts, spread=True)
    assert b.spread is not None
    assert min(b.spread[12:]) > 2.5 * max(b.spread[:12])
    z = b.z(TS, counts)
    assert abs(np.std(z[hour < 12]) / np.std(z[hour >= 12]) - 1) < 0.3
    # Without it (the detector's fit) one sigma serves every hour.
    assert fit_baseline(TS, counts).spread is None
    # The same noise at every hour: no spread.
    even = level + 3 * rng.standard_normal(TS.size)
    assert fit_baseline(TS, even, spread=True).spread is None
