"""The embedded store: SQLite in WAL mode, one compressed chunk per series and day.

New samples land in a small ``head`` table (a row each, so every committed batch
survives a crash); once a day-block is complete it is sealed: encoded into one chunk
row and its head rows deleted, in the same transaction. Reads decode the chunks that
overlap the range and add the head rows.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from monitoring.store import codec
from monitoring.store.base import OutOfOrderSample, Point, Series, StoreError, align

BLOCK_S = 86400  # one chunk per series per UTC day

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
-- A rowid table: large blobs fill overflow pages more tightly than WITHOUT ROWID.
CREATE TABLE IF NOT EXISTS chunks (
    series_id INTEGER NOT NULL, block INTEGER NOT NULL, n INTEGER NOT NULL,
    t_min REAL NOT NULL, t_max REAL NOT NULL, data BLOB NOT NULL,
    UNIQUE (series_id, block));
CREATE TABLE IF NOT EXISTS head (
    series_id INTEGER NOT NULL, ts REAL NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)) WITHOUT ROWID;
"""


def _block(ts: float) -> int:
    return int(ts // BLOCK_S) * BLOCK_S


class SQLiteStore:
    """Store protocol on one SQLite file. Safe to share between threads."""

    def __init__(self, path: str | Path, retention_s: float | None = None) -> None:
        self.path = Path(path)
        self.retention_s = retention_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            # WAL + NORMAL: a committed transaction survives a killed process.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path}: cannot open: {exc}") from exc
        if mode.lower() != "wal":
            raise StoreError(f"store {self.path}: WAL journal mode unavailable ({mode})")
        self._lock = threading.RLock()
        self._ids: dict[str, int] = dict(
            (name, sid) for sid, name in self._db.execute("SELECT id, name FROM series")
        )
        self._sealed_until: dict[int, float] = {}

    # -- writing ----------------------------------------------------------------

    def _series_id(self, name: str) -> int:
        sid = self._ids.get(name)
        if sid is None:
            sid = self._db.execute(
                "INSERT INTO series(name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name=name "
                "RETURNING id",
                (name,),
            ).fetchone()[0]
            self._ids[name] = sid
        return sid

    def _sealed_end(self, sid: int) -> float:
        if sid not in self._sealed_until:
            row = self._db.execute(
                "SELECT MAX(block) FROM chunks WHERE series_id=?", (sid,)
            ).fetchone()
            self._sealed_until[sid] = -1.0 if row[0] is None else row[0] + BLOCK_S
        return self._sealed_until[sid]

    def write(self, points: Iterable[Point]) -> None:
        points = list(points)
        if not points:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                rows = []
                newest: dict[int, float] = {}
                for p in points:
                    if not isinstance(p.series, str) or not p.series:
                        raise StoreError(f"store {self.path}: bad series name {p.series!r}")
                    sid = self._series_id(p.series)
                    if p.ts < self._sealed_end(sid):
                        raise OutOfOrderSample(
                            f"store {self.path}: sample for {p.series!r} at {p.ts} is older "
                            f"than its sealed data (up to {self._sealed_end(sid)})"
                        )
                    rows.append((sid, float(p.ts), float(p.value)))
                    newest[sid] = max(newest.get(sid, p.ts), p.ts)
                self._db.executemany("INSERT OR REPLACE INTO head VALUES (?, ?, ?)", rows)
                for sid, ts in newest.items():
                    self._seal(sid, before=_block(ts))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._sealed_until.clear()
                raise

    def _seal(self, sid: int, before: float) -> None:
        """Encode the head rows of complete blocks (< ``before``) into chunks."""
        head = self._db.execute(
            "SELECT ts, value FROM head WHERE series_id=? AND ts<? ORDER BY ts", (sid, before)
        ).fetchall()
        if not head:
            return
        arr = np.asarray(head, dtype=np.float64)
        blocks = (arr[:, 0] // BLOCK_S).astype(np.int64) * BLOCK_S
        for block in np.unique(blocks):
            part = arr[blocks == block]
            old = self._db.execute(
                "SELECT data FROM chunks WHERE series_id=? AND block=?", (sid, int(block))
            ).fetchone()
            if old is not None:  # a late write into a sealed block: merge, newest wins
                ts0, v0 = codec.decode(old[0])
                merged = dict(zip(ts0.tolist(), v0.tolist(), strict=True))
                merged.update(zip(part[:, 0].tolist(), part[:, 1].tolist(), strict=True))
                keys = sorted(merged)
                part = np.array([[k, merged[k]] for k in keys])
            self._db.execute(
                "INSERT OR REPLACE INTO chunks(series_id, block, n, t_min, t_max, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (sid, int(block), len(part), part[0, 0], part[-1, 0],
                 codec.encode(part[:, 0], part[:, 1])),
            )
        self._db.execute("DELETE FROM head WHERE series_id=? AND ts<?", (sid, before))
        self._sealed_until[sid] = max(self._sealed_end(sid), float(blocks.max()) + BLOCK_S)

    def seal_all(self) -> None:
        """Seal every head row, partial blocks included (end of a backfill)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sid in list(self._ids.values()):
                    self._seal(sid, before=float("inf"))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._sealed_until.clear()
                raise
            self._db.executescript("PRAGMA incremental_vacuum;")  # runs it to completion
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def delete_range(self, start: float, end: float) -> None:
        """Remove every sample in whole blocks overlapping [start, end) (a rebuild)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM chunks WHERE block + ? > ? AND block < ?",
                             (BLOCK_S, start, end))
            self._db.execute("DELETE FROM head WHERE ts >= ? AND ts < ?", (_block(start), end))
            self._db.execute("COMMIT")
            self._sealed_until.clear()
            self._db.executescript("PRAGMA incremental_vacuum;")

    def has_data(self, start: float, end: float) -> bool:
        with self._lock:
            chunk = self._db.execute(
                "SELECT 1 FROM chunks WHERE t_max >= ? AND t_min < ? LIMIT 1", (start, end)
            ).fetchone()
            head = self._db.execute(
                "SELECT 1 FROM head WHERE ts >= ? AND ts < ? LIMIT 1", (start, end)
            ).fetchone()
        return bool(chunk or head)

    def apply_retention(self, now: float) -> int:
        """Drop whole blocks that ended before ``now - retention``; returns chunks dropped."""
        if self.retention_s is None:
            return 0
        cutoff = now - self.retention_s
        with self._lock:
            cur = self._db.execute("DELETE FROM chunks WHERE block + ? <= ?", (BLOCK_S, cutoff))
            self._db.execute("DELETE FROM head WHERE ts < ?", (cutoff,))
            self._db.executescript("PRAGMA incremental_vacuum;")  # runs it to completion
            return cur.rowcount

    # -- reading ----------------------------------------------------------------

    def series_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._ids)

    def read(self, series: str, start: float, end: float, step: float | None = None) -> Series:
        return self.read_many([series], start, end, step)[series]

    def read_many(
        self, series: Sequence[str], start: float, end: float, step: float | None = None
    ) -> dict[str, Series]:
        if end < start:
            raise StoreError(f"store {self.path}: range end {end} is before start {start}")
        lookback = 0.0 if step is None else max(step, 300.0)
        lo = start - lookback
        parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        with self._lock:
            sids = {name: self._ids.get(name) for name in series}
            known = [sid for sid in sids.values() if sid is not None]
            if known:
                marks = ",".join("?" * len(known))
                for sid, blob in self._db.execute(
                    f"SELECT series_id, data FROM chunks WHERE series_id IN ({marks}) "
                    "AND t_max >= ? AND t_min <= ? ORDER BY series_id, block",
                    (*known, lo, end),
                ):
                    parts[sid].append(codec.decode(blob))
                for sid in known:
                    head = self._db.execute(
                        "SELECT ts, value FROM head WHERE series_id=? AND ts>=? AND ts<=? "
                        "ORDER BY ts",
                        (sid, lo, end),
                    ).fetchall()
                    if head:
                        arr = np.asarray(head, dtype=np.float64)
                        parts[sid].append((arr[:, 0], arr[:, 1]))
        out = {}
        for name, sid in sids.items():
            chunks = parts.get(sid, []) if sid is not None else []
            if chunks:
                ts = np.concatenate([c[0] for c in chunks])
                values = np.concatenate([c[1] for c in chunks])
                keep = (ts >= lo) & (ts <= end)
                raw = Series(name, ts[keep], values[keep])
            else:
                raw = Series.empty(name)
            if step is None:
                out[name] = raw
            else:
                out[name] = align(raw, start, end, step, lookback)
        return out

    def stats(self) -> dict[str, float]:
        """Samples held and bytes on disk (database file and its WAL)."""
        with self._lock:
            chunked = self._db.execute("SELECT COALESCE(SUM(n), 0) FROM chunks").fetchone()[0]
            head = self._db.execute("SELECT COUNT(*) FROM head").fetchone()[0]
        size = sum(
            p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists()
        )
        return {"samples": chunked + head, "bytes": size, "series": len(self._ids)}

    def checkpoint(self) -> None:
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()
