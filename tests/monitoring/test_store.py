import numpy as np
import pytest

from monitoring.clock import VirtualClock
from monitoring.store.base import Point, StoreError
from monitoring.store.codec import ChunkError, decode, encode
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


def test_late_sample_for_a_sealed_day_is_merged_not_refused(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.write([Point("m", T0 + 10, 1.0), Point("m", T0 + BLOCK_S + 10, 2.0)])
    store.write([Point("m", T0 + 20, 3.0), Point("m", T0 + 10, 1.5)])  # into the sealed day
    assert store.read("m", T0, T0 + 2 * BLOCK_S).values.tolist() == [1.5, 3.0, 2.0]
    store.write([Point("m", T0 + 2 * BLOCK_S + 10, 4.0)])  # moves on: the late rows merge
    store.close()
    store = SQLiteStore(tmp_path / "s.db")
    s = store.read("m", T0, T0 + 3 * BLOCK_S)
    assert s.ts.tolist() == [T0 + 10, T0 + 20, T0 + BLOCK_S + 10, T0 + 2 * BLOCK_S + 10]
    assert s.values.tolist() == [1.5, 3.0, 2.0, 4.0]


def test_failed_batch_is_rolled_back_whole(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.write([Point("m", T0 + 10, 1.0)])
    with pytest.raises(StoreError, match="bad series name"):
        store.write([Point("new", T0 + 20, 3.0), Point("", T0 + 20, 4.0)])
    assert store.read("new", T0, T0 + BLOCK_S).values.size == 0
    # the series created by the failed batch is not remembered: a later write keeps it
    store.write([Point("other", T0 + 30, 5.0), Point("new", T0 + 30, 6.0)])
    store.close()
    store = SQLiteStore(tmp_path / "s.db")
    assert store.read("new", T0, T0 + BLOCK_S).values.tolist() == [6.0]
    assert store.read("other", T0, T0 + BLOCK_S).values.tolist() == [5.0]


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
    assert store.apply_retention(now=T0 + 5 * BLOCK_S) == 3
    assert store.read("m", T0, T0 + 5 * BLOCK_S).values.tolist() == [3.0, 4.0]


@pytest.mark.parametrize("retention", [0.0, -1.0, float("nan")])
def test_retention_that_would_delete_everything_is_refused(tmp_path, retention):
    with pytest.raises(StoreError, match="retention must be positive"):
        SQLiteStore(tmp_path / "s.db", retention_s=retention)


def test_bad_range_is_a_clear_error(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(StoreError, match="before start"):
        store.read("m", 10, 5)


def test_codec_checksum_finds_a_damaged_chunk():
    blob = bytearray(encode(T0 + np.arange(100) * 60.0, np.arange(100.0)))
    blob[-3] ^= 0xFF
    with pytest.raises(ChunkError, match="checksum"):
        decode(bytes(blob))
    with pytest.raises(ChunkError, match="version"):
        decode(b"\x07" + bytes(blob[1:]))


def test_codec_reads_chunks_written_before_the_checksum():
    ts, values = T0 + np.arange(10) * 60.0, np.arange(10.0)
    v1 = b"\x01" + encode(ts, values)[5:]  # version byte, then no CRC
    ts2, values2 = decode(v1)
    assert np.array_equal(ts2, ts) and np.array_equal(values2, values)


def test_backfill_record_progress_partial_and_resume(tmp_path):
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    run = store.begin_backfill(T0, T0 + 2 * BLOCK_S)
    store.write_backfill(run, [Point("m", T0 + 60, 1.0)], done_until=T0 + BLOCK_S)
    store.close()  # as if killed: never finished
    store = SQLiteStore(path)
    [partial] = store.partial_backfills(T0, T0 + BLOCK_S)
    assert partial.missing == (T0 + BLOCK_S, T0 + 2 * BLOCK_S)
    assert "partial" in partial.describe()
    assert store.partial_backfills(T0 + 3 * BLOCK_S, T0 + 4 * BLOCK_S) == []
    resumed = store.begin_backfill(T0, T0 + 2 * BLOCK_S)
    assert resumed.id == run.id and resumed.done_until == T0 + BLOCK_S
    store.write_backfill(resumed, [Point("m", T0 + BLOCK_S + 60, 2.0)],
                         done_until=T0 + 2 * BLOCK_S)
    done = store.finish_backfill(resumed)
    assert done.complete and store.partial_backfills() == []
    assert store.read("m", T0, T0 + 2 * BLOCK_S).values.tolist() == [1.0, 2.0]
    assert store.stats()["samples"] == 2
    # a new backfill of the same range after completion is a new record
    assert store.begin_backfill(T0, T0 + 2 * BLOCK_S).id != run.id


def test_backfill_of_the_future_is_refused(tmp_path):
    store = SQLiteStore(tmp_path / "s.db", clock=VirtualClock(T0))
    with pytest.raises(StoreError, match="fills the past"):
        store.begin_backfill(T0, T0 + BLOCK_S)
    with pytest.raises(StoreError, match="not after its start"):
        store.begin_backfill(T0 - BLOCK_S, T0 - BLOCK_S)
