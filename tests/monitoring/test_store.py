import numpy as np
import pytest

from monitoring.store.base import OutOfOrderSample, Point, StoreError
from monitoring.store.codec import decode, encode
from monitoring.store.sqlite import BLOCK_S, SQLiteStore

T0 = 1_700_000_000 // BLOCK_S * BLOCK_S


def test_codec_round_trip_is_lossless():
    rng = np.random.default_rng(3)
    ts = T0 + np.cumsum(rng.integers(1, 120, 500)).astype(float)
    values = np.concatenate([rng.normal(0, 1, 498), [np.nan, np.inf]])
    ts2, values2 = decode(encode(ts, values))
    assert np.array_equal(ts2, ts)
    assert np.array_equal(values2, values, equal_nan=True)


def test_write_read_across_blocks_and_reopen(tmp_path):
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    n = 3 * 1440
    for i in range(0, n, 100):
        store.write([Point("m", T0 + j * 60, float(j)) for j in range(i, min(i + 100, n))])
    store.close()
    store = SQLiteStore(path)
    s = store.read("m", T0, T0 + n * 60)
    assert len(s) == n
    assert np.array_equal(s.values, np.arange(n, dtype=float))
    part = store.read("m", T0 + 1439 * 60, T0 + 1441 * 60)  # spans a block edge
    assert part.values.tolist() == [1439.0, 1440.0, 1441.0]


def test_step_alignment(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.write([Point("m", T0 + j * 60, float(j)) for j in range(10)])
    s = store.read("m", T0, T0 + 3600, step=120)
    assert s.values[:5].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert np.isnan(s.values[-1])  # long after the last sample: stale


def test_sealed_block_rejects_older_samples_but_keeps_data(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.write([Point("m", T0 + 10, 1.0), Point("m", T0 + BLOCK_S + 10, 2.0)])
    with pytest.raises(OutOfOrderSample):
        store.write([Point("m", T0 + 20, 3.0), Point("other", T0 + 20, 4.0)])
    # the failed batch is rolled back whole
    assert store.read("other", T0, T0 + 2 * BLOCK_S).values.size == 0
    assert store.read("m", T0, T0 + 2 * BLOCK_S).values.tolist() == [1.0, 2.0]


def test_bytes_per_sample_on_noisy_data_is_under_eight(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    rng = np.random.default_rng(1)
    for day in range(7):
        for series in range(5):
            ts = T0 + day * BLOCK_S + np.arange(1440) * 60.0
            store.write([Point(f"m{series}", t, float(v))
                         for t, v in zip(ts, rng.normal(30, 3, 1440), strict=True)])
    store.seal_all()
    store.checkpoint()
    stats = store.stats()
    assert stats["samples"] == 7 * 1440 * 5
    assert stats["bytes"] / stats["samples"] < 8


def test_retention_drops_old_blocks(tmp_path):
    store = SQLiteStore(tmp_path / "s.db", retention_s=2 * BLOCK_S)
    store.write([Point("m", T0 + d * BLOCK_S, float(d)) for d in range(5)])
    store.seal_all()
    store.apply_retention(now=T0 + 5 * BLOCK_S)
    assert store.read("m", T0, T0 + 5 * BLOCK_S).values.tolist() == [3.0, 4.0]


def test_bad_range_is_a_clear_error(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(StoreError, match="before start"):
        store.read("m", 10, 5)
