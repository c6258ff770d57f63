"""Chunk encoding: a block of one series as one compressed blob.

Timestamps are kept as milliseconds, delta-of-delta encoded (a regular scrape interval
becomes zeros). Values are float64 XORed with their predecessor, as in Gorilla, then
byte-shuffled so the slowly changing sign/exponent bytes sit together, then
zlib-compressed. Lossless; decoding is a handful of numpy operations.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_HEADER = struct.Struct("<IqI")  # count, first timestamp (ms), length of the ts section
_VERSION = b"\x01"


def encode(ts: np.ndarray, values: np.ndarray) -> bytes:
    n = len(ts)
    if n == 0:
        raise ValueError("cannot encode an empty chunk")
    ms = np.round(np.asarray(ts, dtype=np.float64) * 1000).astype(np.int64)
    dod = np.diff(ms, n=1)
    dod = np.concatenate([dod[:1], np.diff(dod)]) if len(dod) else dod
    ts_blob = zlib.compress(dod.astype("<i8").tobytes(), 6)
    bits = np.asarray(values, dtype="<f8").view("<u8")
    xored = bits ^ np.concatenate([np.zeros(1, dtype="<u8"), bits[:-1]])
    shuffled = xored.view(np.uint8).reshape(n, 8).T.tobytes()
    val_blob = zlib.compress(shuffled, 6)
    return _VERSION + _HEADER.pack(n, int(ms[0]), len(ts_blob)) + ts_blob + val_blob


def decode(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    if blob[:1] != _VERSION:
        raise ValueError(f"unknown chunk encoding version {blob[:1]!r}")
    n, first, ts_len = _HEADER.unpack_from(blob, 1)
    offset = 1 + _HEADER.size
    dod = np.frombuffer(zlib.decompress(blob[offset : offset + ts_len]), dtype="<i8")
    ms = np.empty(n, dtype=np.int64)
    ms[0] = first
    if n > 1:
        ms[1:] = first + np.cumsum(np.cumsum(dod))
    shuffled = np.frombuffer(zlib.decompress(blob[offset + ts_len :]), dtype=np.uint8)
    xored = shuffled.reshape(8, n).T.copy().view("<u8").ravel()
    bits = np.bitwise_xor.accumulate(xored)
    return ms / 1000.0, bits.view("<f8")
