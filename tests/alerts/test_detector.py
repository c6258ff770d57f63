import numpy as np
import pandas as pd
import pytest

from alerts.detector import detect


def _frame(values: np.ndarray) -> pd.DataFrame:
    ts = pd.date_range("2026-01-01", periods=len(values), freq="5min")
    return pd.DataFrame({"timestamp": ts, "value": values})


def _daily(n: int = 4032, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hour = np.arange(n) * 5 / 60 % 24
    return 50 + 30 * np.sin(hour / 24 * 2 * np.pi) + rng.normal(0, 1, n)


def test_scores_in_unit_interval_one_per_row():
    s = detect(_frame(_daily()))
    assert s.shape == (4032,) and np.all((s >= 0) & (s < 1))


def test_causal_future_rows_do_not_change_past_scores():
    v = _daily()
    a = detect(_frame(v))
    w = v.copy()
    w[3000:] += 500
    b = detect(_frame(w))
    np.testing.assert_array_equal(a[:3000], b[:3000])


def test_spike_and_seasonal_shift_stand_out():
    v = _daily()
    v[3000] += 40  # a spike
    # The afternoon of day 12 looks like a normal night: in range, wrong for the hour.
    day12 = slice(12 * 288 + 60, 12 * 288 + 120)
    v[day12] = 50 - 30 * np.sin(np.arange(60) * 5 / 60 / 24 * 2 * np.pi)
    s = detect(_frame(v))
    normal = np.r_[s[1000:2900], s[3100:3456]]
    assert s[3000] > 0.5 > np.quantile(normal, 0.999)
    assert s[day12].max() > 0.5


def _flat(n: int = 4032, seed: int = 3) -> np.ndarray:
    return 50 + np.random.default_rng(seed).normal(0, 1, n)


def test_sustained_small_shift_scores_above_any_lone_noise_row():
    v = _flat()
    v[3000:3036] += 1.5  # three hours at 1.5 sigma: no one row is out of the ordinary
    s = detect(_frame(v))
    normal = np.r_[s[1000:2900], s[3400:]]
    assert s[3000:3036].max() > max(normal.max(), 0.5)


def test_one_spike_is_one_detection():
    v = _flat()
    v[3000] += 40
    s = detect(_frame(v))
    assert s[3000] > 0.5
    # The runs that hold the spike stay high for a day, but none is a new maximum of
    # its trailing hour: the hour after the spike scores 0, the rest of the day is quiet.
    assert np.all(s[3001:3012] == 0)
    assert s[3012:3288].max() < 0.5


def test_truncated_series_scores_the_same_prefix():
    v = _flat()
    v[3000:3036] += 1.5
    v[3100] += 40
    full = detect(_frame(v))
    for k in (2500, 3010, 3101):
        np.testing.assert_array_equal(detect(_frame(v[:k])), full[:k])


def test_bad_input_names_what_is_wrong():
    frame = _frame(_daily(100))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['value'\]"):
        detect(frame.rename(columns={"value": "v"}))
    with pytest.raises(ValueError, match="'value' is not numeric"):
        detect(frame.assign(value=["x"] * len(frame)))
    shuffled = frame.iloc[[0, 2, 1, *range(3, len(frame))]].reset_index(drop=True)
    with pytest.raises(ValueError, match=r"row 2 .* is earlier than row 1"):
        detect(shuffled)


def test_repeated_timestamps_are_scored():
    frame = _frame(_daily(2000))
    frame.loc[1000, "timestamp"] = frame.loc[999, "timestamp"]  # a clock change
    s = detect(frame)
    assert s.shape == (2000,) and np.all((s >= 0) & (s < 1))
