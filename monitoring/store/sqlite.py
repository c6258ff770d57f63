"""The embedded store: SQLite in WAL mode, one compressed chunk per series and day.

New samples land in a small ``head`` table (a row each, so every committed batch
survives a crash); once a day is over by the store's clock and a grace period, it is
sealed: encoded into one chunk row and its head rows deleted, in the same transaction.
Reads decode the chunks that overlap the range and add the head rows (which win on the
same timestamp).

No clock can lock the store: a sample from the future (beyond a small tolerance) is
refused and counted, so it can neither land nor seal anything; sealing follows the
store's clock, never the samples' timestamps alone; and a late sample for a sealed day
is kept in the head and merged into that day's chunk when it is next sealed.

Damage stays loud and local: the file is checked when opened (``PRAGMA quick_check``),
a damaged chunk costs only its series and day (named in ``Series.warnings``), and the
real SQLite error is the one raised, as a ``StoreError`` subclass.

A backfill is recorded with its intended range and how far it got, committed with each
batch, so a killed backfill reads as partial and a resumed one fills only the rest.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitoring.clock import Clock, WallClock
from monitoring.store import codec
from monitoring.store.base import (
    Point,
    Series,
    StoreCorrupt,
    StoreError,
    StoreFull,
    WriteResult,
    align,
)
from monitoring.timerange import fmt_ts

log = logging.getLogger(__name__)

BLOCK_S = 86400  # one chunk per series per UTC day
FUTURE_TOLERANCE_S = 300.0  # a sample further ahead of the store's clock is refused
SEAL_GRACE_S = 3600.0  # a day is sealed this long after it ends, so late scrapes land first

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
CREATE TABLE IF NOT EXISTS backfills (
    id INTEGER PRIMARY KEY, range_start REAL NOT NULL, range_end REAL NOT NULL,
    done_until REAL NOT NULL, started_at REAL NOT NULL, finished_at REAL);
"""


def _block(ts: float) -> int:
    return int(ts // BLOCK_S) * BLOCK_S


@dataclass(frozen=True)
class BackfillRun:
    """A backfill's intended range and how far it got (``done_until``)."""

    id: int
    start: float
    end: float
    done_until: float
    started_at: float
    finished_at: float | None

    @property
    def complete(self) -> bool:
        return self.finished_at is not None

    @property
    def missing(self) -> tuple[float, float] | None:
        """The part of the range still to fill, or None once complete."""
        return None if self.complete else (self.done_until, self.end)

    def describe(self) -> str:
        span = f"backfill {fmt_ts(self.start)} → {fmt_ts(self.end)} UTC"
        if self.complete:
            return f"{span}: complete"
        return (f"{span} is partial: filled up to {fmt_ts(self.done_until)} UTC, "
                f"{fmt_ts(self.done_until)} → {fmt_ts(self.end)} missing")


class SQLiteStore:
    """Store protocol on one SQLite file. Safe to share between threads.

    ``clock`` is what "now" means for refusing future samples and sealing days;
    ``check`` runs ``PRAGMA quick_check`` on an existing file when it is opened.
    """

    def __init__(self, path: str | Path, retention_s: float | None = None,
                 clock: Clock | None = None,
                 future_tolerance_s: float = FUTURE_TOLERANCE_S,
                 seal_grace_s: float = SEAL_GRACE_S, check: bool = True) -> None:
        self.path = Path(path)
        if retention_s is not None and not retention_s > 0:
            raise StoreError(f"store {self.path}: retention must be positive, got {retention_s}s")
        for name, value in (("future tolerance", future_tolerance_s),
                            ("seal grace", seal_grace_s)):
            if not (math.isfinite(value) and value >= 0):
                raise StoreError(f"store {self.path}: {name} must be a finite duration >= 0, "
                                 f"got {value}")
        self.retention_s = retention_s
        self.clock: Clock = clock or WallClock()
        self.future_tolerance_s = future_tolerance_s
        self.seal_grace_s = seal_grace_s
        self.refused: Counter[str] = Counter()  # samples refused since opened, by reason
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot open") from exc
        try:
            if existed and check:
                self._quick_check()
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            # WAL + NORMAL: a committed transaction survives a killed process.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._ids: dict[str, int] = self._load_ids()
        except sqlite3.Error as exc:
            self._db.close()
            raise self._error(exc, "cannot open") from exc
        except StoreError:
            self._db.close()
            raise
        if mode.lower() != "wal":
            self._db.close()
            raise StoreError(f"store {self.path}: WAL journal mode unavailable ({mode})")

    # -- errors and transactions ------------------------------------------------

    def _error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        """The SQLite error as the store's own, its message kept."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        message = f"store {self.path}: {doing}: {exc}"
        if primary == sqlite3.SQLITE_FULL:
            return StoreFull(message)
        if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return StoreCorrupt(f"{message} (the file is damaged: restore it from a backup, "
                                "or move it aside to start an empty store)")
        return StoreError(message)

    def _quick_check(self) -> None:
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise StoreCorrupt(
                f"store {self.path}: damaged, its integrity check failed: "
                f"{'; '.join(problems)} (restore it from a backup, or move it aside to "
                "start an empty store)")

    def _load_ids(self) -> dict[str, int]:
        return {name: sid for sid, name in self._db.execute("SELECT id, name FROM series")}

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; on failure roll back (when SQLite has not already)
        and raise the original error."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, doing) from exc
            raise

    def _rollback(self) -> None:
        # SQLite rolls some failures (a full disk among them) back by itself; a second
        # ROLLBACK would only raise "no transaction is active" over the real error.
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._ids = self._load_ids()  # series created in the failed batch are gone
        except sqlite3.Error as exc:
            log.warning("store %s: rollback after a failed write: %s", self.path, exc)

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

    def _sealable_before(self, now: float) -> int:
        """Days ending before this are over by the clock and the grace period."""
        return _block(now - self.seal_grace_s)

    def write(self, points: Iterable[Point]) -> WriteResult:
        return self._write(points)

    def write_backfill(self, run: BackfillRun, points: Iterable[Point],
                       done_until: float) -> WriteResult:
        """Write a backfill's batch and, in the same transaction, how far it got."""
        return self._write(points, progress=(run.id, done_until))

    def _write(self, points: Iterable[Point],
               progress: tuple[int, float] | None = None) -> WriteResult:
        points = list(points)
        if not points and progress is None:
            return WriteResult()
        now = self.clock.now()
        limit = now + self.future_tolerance_s
        refused: Counter[str] = Counter()
        first: str | None = None
        with self._lock, self._transaction("cannot write"):
            rows = []
            newest: dict[int, float] = {}
            for p in points:
                if not isinstance(p.series, str) or not p.series:
                    raise StoreError(f"store {self.path}: bad series name {p.series!r}")
                ts = float(p.ts)
                reason = ("bad_timestamp" if not math.isfinite(ts)
                          else "future" if ts > limit else None)
                if reason is not None:
                    refused[reason] += 1
                    if first is None:
                        first = (f"sample for {p.series!r} at {ts} has no valid time"
                                 if reason == "bad_timestamp" else
                                 f"sample for {p.series!r} at {fmt_ts(ts)} UTC is "
                                 f"{ts - now:,.0f} s ahead of the store's clock "
                                 f"({fmt_ts(now)} UTC; tolerance {self.future_tolerance_s:g} s)")
                    continue
                sid = self._series_id(p.series)
                rows.append((sid, ts, float(p.value)))
                newest[sid] = max(newest.get(sid, ts), ts)
            self._db.executemany("INSERT OR REPLACE INTO head VALUES (?, ?, ?)", rows)
            sealable = self._sealable_before(now)
            for sid, ts in newest.items():
                # Days the series has moved past, and only those over by the clock.
                self._seal(sid, before=min(_block(ts), sealable))
            if progress is not None:
                self._db.execute("UPDATE backfills SET done_until=MAX(done_until, ?) WHERE id=?",
                                 (progress[1], progress[0]))
        if refused:
            self.refused.update(refused)
            log.warning("store %s: %d samples refused (%s); first: %s", self.path,
                        sum(refused.values()), ", ".join(sorted(refused)), first)
        return WriteResult(len(rows), dict(refused), first)

    def _seal(self, sid: int, before: float, after: float = -math.inf) -> None:
        """Encode the head rows in [``after``, ``before``) into their days' chunks."""
        head = self._db.execute(
            "SELECT ts, value FROM head WHERE series_id=? AND ts>=? AND ts<? ORDER BY ts",
            (sid, after, before),
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
            if old is not None:  # a late write into a sealed day: merge, newest wins
                try:
                    ts0, v0 = codec.decode(old[0])
                except codec.ChunkError as exc:
                    log.warning("store %s: series %d day %s: damaged chunk replaced by its "
                                "new samples (%s)", self.path, sid, fmt_ts(block), exc)
                else:
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
        self._db.execute("DELETE FROM head WHERE series_id=? AND ts>=? AND ts<?",
                         (sid, after, before))

    def seal_range(self, start: float, end: float) -> None:
        """Seal the head rows in [start, end) of days over by the clock and the grace
        period (the end of a backfill: only the range it wrote)."""
        with self._lock:
            before = min(end, self._sealable_before(self.clock.now()))
            with self._transaction("cannot seal"):
                for sid in list(self._ids.values()):
                    self._seal(sid, before=before, after=start)
            self._compact()

    def seal_all(self) -> None:
        """Seal every head row of the days that are over by the clock and the grace."""
        self.seal_range(-math.inf, math.inf)

    def _compact(self) -> None:
        try:
            self._db.executescript("PRAGMA incremental_vacuum;")  # runs it to completion
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot compact") from exc

    def delete_range(self, start: float, end: float) -> None:
        """Remove every sample in whole blocks overlapping [start, end) (a rebuild), and
        the records of backfills overlapping it."""
        with self._lock:
            with self._transaction("cannot delete"):
                self._db.execute("DELETE FROM chunks WHERE block + ? > ? AND block < ?",
                                 (BLOCK_S, start, end))
                self._db.execute("DELETE FROM head WHERE ts >= ? AND ts < ?",
                                 (_block(start), end))
                self._db.execute("DELETE FROM backfills WHERE range_end > ? AND range_start < ?",
                                 (start, end))
            self._compact()

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
            with self._transaction("cannot apply retention"):
                cur = self._db.execute("DELETE FROM chunks WHERE block + ? <= ?",
                                       (BLOCK_S, cutoff))
                dropped = cur.rowcount
                self._db.execute("DELETE FROM head WHERE ts < ?", (cutoff,))
                self._db.execute("DELETE FROM backfills WHERE range_end <= ?", (cutoff,))
            self._compact()
            return dropped

    # -- backfill records -------------------------------------------------------

    def begin_backfill(self, start: float, end: float) -> BackfillRun:
        """Record a backfill of [start, end), or return the unfinished record of that same
        range (a resume: fill from its ``done_until``)."""
        if not end > start:
            raise StoreError(f"store {self.path}: backfill range end {end} is not after its "
                             f"start {start}")
        now = self.clock.now()
        if end > now + self.future_tolerance_s:
            raise StoreError(f"store {self.path}: backfill range ends {fmt_ts(end)} UTC, after "
                             f"now ({fmt_ts(now)} UTC): a backfill fills the past")
        with self._lock:
            with self._transaction("cannot record the backfill"):
                row = self._db.execute(
                    "SELECT id FROM backfills WHERE range_start=? AND range_end=? "
                    "AND finished_at IS NULL ORDER BY id DESC LIMIT 1", (start, end)
                ).fetchone()
                if row is None:
                    row = self._db.execute(
                        "INSERT INTO backfills(range_start, range_end, done_until, started_at) "
                        "VALUES (?, ?, ?, ?) RETURNING id", (start, end, start, now)
                    ).fetchone()
            return self._backfill(row[0])

    def finish_backfill(self, run: BackfillRun) -> BackfillRun:
        """Seal the range the backfill wrote and record it as complete."""
        self.seal_range(run.start, run.end)
        with self._lock:
            with self._transaction("cannot record the backfill"):
                self._db.execute(
                    "UPDATE backfills SET done_until=range_end, finished_at=? WHERE id=?",
                    (self.clock.now(), run.id))
            return self._backfill(run.id)

    def _backfill(self, run_id: int) -> BackfillRun:
        row = self._db.execute(
            "SELECT id, range_start, range_end, done_until, started_at, finished_at "
            "FROM backfills WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"store {self.path}: no backfill record {run_id}")
        return BackfillRun(*row)

    def backfill_status(self, start: float = -math.inf, end: float = math.inf
                        ) -> list[BackfillRun]:
        """The recorded backfills overlapping [start, end), oldest range first."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT id, range_start, range_end, done_until, started_at, finished_at "
                    "FROM backfills WHERE range_end > ? AND range_start < ? "
                    "ORDER BY range_start, id", (start, end)).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc, "cannot read backfill records") from exc
        return [BackfillRun(*row) for row in rows]

    def partial_backfills(self, start: float = -math.inf, end: float = math.inf
                          ) -> list[BackfillRun]:
        """Backfills overlapping [start, end) that did not finish (killed or running)."""
        return [run for run in self.backfill_status(start, end) if not run.complete]

    # -- reading ----------------------------------------------------------------

    def series_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._ids)

    def read(self, series: str, start: float, end: float, step: float | None = None) -> Series:
        return self.read_many([series], start, end, step)[series]

    def _read_raw(self, name: str, sid: int, lo: float, end: float) -> Series:
        """One series' samples in [lo, end]; what cannot be read is named in warnings."""
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        warnings: list[str] = []
        try:
            chunks = self._db.execute(
                "SELECT block, data FROM chunks WHERE series_id=? AND t_max >= ? "
                "AND t_min <= ? ORDER BY block", (sid, lo, end)).fetchall()
        except sqlite3.DatabaseError as exc:
            chunks = []
            warnings.append(f"{name}: stored days unreadable: {exc}")
        for block, blob in chunks:
            try:
                parts.append(codec.decode(blob))
            except codec.ChunkError as exc:
                warnings.append(f"{name}: day {fmt_ts(block)[:10]} unreadable "
                                f"(damaged chunk: {exc})")
        try:
            head = self._db.execute(
                "SELECT ts, value FROM head WHERE series_id=? AND ts>=? AND ts<=? ORDER BY ts",
                (sid, lo, end)).fetchall()
        except sqlite3.DatabaseError as exc:
            head = []
            warnings.append(f"{name}: recent samples unreadable: {exc}")
        if head:
            arr = np.asarray(head, dtype=np.float64)
            parts.append((arr[:, 0], arr[:, 1]))
        if not parts:
            return Series.empty(name, tuple(warnings))
        ts = np.concatenate([p[0] for p in parts])
        values = np.concatenate([p[1] for p in parts])
        if len(ts) > 1 and not np.all(np.diff(ts) > 0):
            # A late sample for a sealed day sits in the head until it is merged: order
            # by time, the head (appended last) winning on the same timestamp.
            order = np.argsort(ts, kind="stable")
            ts, values = ts[order], values[order]
            last = np.append(ts[1:] != ts[:-1], True)
            ts, values = ts[last], values[last]
        keep = (ts >= lo) & (ts <= end)
        return Series(name, ts[keep], values[keep], tuple(warnings))

    def read_many(
        self, series: Sequence[str], start: float, end: float, step: float | None = None
    ) -> dict[str, Series]:
        if end < start:
            raise StoreError(f"store {self.path}: range end {end} is before start {start}")
        lookback = 0.0 if step is None else max(step, 300.0)
        lo = start - lookback
        out = {}
        with self._lock:
            for name in series:
                sid = self._ids.get(name)
                raw = Series.empty(name) if sid is None else self._read_raw(name, sid, lo, end)
                out[name] = raw if step is None else align(raw, start, end, step, lookback)
        for result in out.values():
            for warning in result.warnings:
                log.warning("store %s: %s", self.path, warning)
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
