import numpy as np

from alerts.stats import fit_baseline, robust_sigma
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
