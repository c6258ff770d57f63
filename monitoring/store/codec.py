"""Chunk encoding: a block of one series as one compressed blob.

Timestamps are kept as milliseconds, delta-of-delta encoded (a regular scrape interval
becomes zeros). Values are float64 XORed with their predecessor, as in Gorilla, then
byte-shuffled so the slowly changing sign/exponent bytes sit together, then
zlib-compressed. Lossless; decoding is a handful of numpy operations.

A chunk carries a CRC-32 of everything after it, so a damaged chunk is found when it
is read (``ChunkError``) instead of decoding to wrong timestamps. Chunks written
before the checksum (version 1) still decode.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_HEADER = struct.Struct("<IqI")  # count, first timestamp (ms), length of the ts section
_CRC = struct.Struct("<I")
_V1 = b"\x01"
_V2 = b"\x02"  # version 1 with a CRC-32 of the rest after the version byte


class ChunkError(ValueError):
    """A chunk that cannot be decoded: damaged, truncated or of an unknown version."""


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
    body = _HEADER.pack(n, int(ms[0]), len(ts_blob)) + ts_blob + val_blob
    return _V2 + _CRC.pack(zlib.crc32(body)) + body


def decode(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (epoch seconds) and values of a chunk; ``ChunkError`` when damaged."""
    version = bytes(blob[:1])
    if version == _V2:
        if len(blob) < 1 + _CRC.size:
            raise ChunkError(f"chunk truncated ({len(blob)} bytes)")
        (crc,) = _CRC.unpack_from(blob, 1)
        body = bytes(blob[1 + _CRC.size:])
        if zlib.crc32(body) != crc:
            raise ChunkError("chunk checksum mismatch")
    elif version == _V1:
        body = bytes(blob[1:])
    else:
        raise ChunkError(f"unknown chunk encoding version {version!r}")
    if len(body) < _HEADER.size:
        raise ChunkError(f"chunk truncated ({len(blob)} bytes)")
    n, first, ts_len = _HEADER.unpack_from(body)
    offset = _HEADER.size
    try:
        dod_bytes = zlib.decompress(body[offset : offset + ts_len])
        shuffled_bytes = zlib.decompress(body[offset + ts_len :])
    except zlib.error as exc:
        raise ChunkError(f"chunk does not decompress: {exc}") from None
    if n == 0 or len(dod_bytes) != 8 * (n - 1) or len(shuffled_bytes) != 8 * n:
        raise ChunkError(f"chunk sections do not match its count of {n} samples")
    dod = np.frombuffer(dod_bytes, dtype="<i8")
    ms = np.empty(n, dtype=np.int64)
    ms[0] = first
    if n > 1:
        ms[1:] = first + np.cumsum(np.cumsum(dod))
    shuffled = np.frombuffer(shuffled_bytes, dtype=np.uint8)
    xored = shuffled.reshape(8, n).T.copy().view("<u8").ravel()
    bits = np.bitwise_xor.accumulate(xored)
    return ms / 1000.0, bits.view("<f8")
