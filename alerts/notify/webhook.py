"""JSON webhook with a durable, bounded outbox.

Notifications are first written to a SQLite outbox (surviving restarts and receiver
outages), then delivered oldest first; a row leaves the outbox on a 2xx, on a final
refusal (4xx), or after ``max_timeouts`` sends that each timed out (the receiver may
have taken them: it is not sent the change yet again). Each POST carries
``Idempotency-Key``, and a change is enqueued once (its key is unique), so a receiver
that honours the key sees every change exactly once. A full outbox drops its oldest
rows. Every outcome is counted per channel (``alerts.notify.metrics``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

import requests

from alerts.notify.base import Notification, SendResult, send_with_retry
from alerts.notify.httppost import post_json
from alerts.notify.metrics import NotifyMetrics
from monitoring.sqlitedb import open_db

log = logging.getLogger("ionmon.alerts.notify")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    timeouts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY);
"""
MAX_TIMEOUTS = 3  # sends of one change that may time out before it is given up


def _migrate(db: sqlite3.Connection) -> None:
    """An outbox written before timeouts were counted gets the column."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    if "timeouts" not in columns:
        db.execute("ALTER TABLE outbox ADD COLUMN timeouts INTEGER NOT NULL DEFAULT 0")


class WebhookNotifier:
    name = "webhook"

    def __init__(self, url: str, outbox_path: str | Path, max_queue: int = 1000,
                 timeout_s: float = 5.0, deadline_s: float = 30.0,
                 sleep: Callable[[float], None] | None = None,
                 metrics: NotifyMetrics | None = None,
                 max_timeouts: int = MAX_TIMEOUTS) -> None:
        if max_timeouts < 1:
            raise ValueError(f"max_timeouts must be at least 1, got {max_timeouts}")
        self.url = url
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.max_timeouts = max_timeouts
        self._sleep = sleep
        self._session = requests.Session()
        self._db = open_db(outbox_path, _SCHEMA)
        _migrate(self._db)
        self._lock = threading.Lock()
        self._closed = False
        self.metrics = metrics if metrics is not None else NotifyMetrics()
        self.metrics.channel(self.name, queued=self._queued)

    # -- queue ---------------------------------------------------------------------

    def enqueue(self, notes: Sequence[Notification]) -> int:
        """Add to the outbox; a change already queued or sent is not added again."""
        added = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            for n in notes:
                if self._db.execute("SELECT 1 FROM sent WHERE key=?", (n.key,)).fetchone():
                    continue
                cur = self._db.execute("INSERT OR IGNORE INTO outbox (key, body) VALUES (?, ?)",
                                       (n.key, json.dumps(asdict(n))))
                added += cur.rowcount
            over = self._count() - self.max_queue
            if over > 0:
                # Bounded: the oldest are the least useful now; count what is lost.
                self._db.execute("DELETE FROM outbox WHERE seq IN "
                                 "(SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (over,))
                self._db.execute("INSERT INTO counters VALUES ('dropped', ?) ON CONFLICT(name) "
                                 "DO UPDATE SET value = value + excluded.value", (over,))
                log.warning("%s outbox full (%d): dropped %d oldest", self.name,
                            self.max_queue, over)
            self._db.execute("COMMIT")
        if over > 0:
            self.metrics.count(self.name, "dropped", over, "outbox full")
        return added

    def _queued(self) -> int:
        with self._lock:
            return 0 if self._closed else self._count()

    def _count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    @property
    def pending(self) -> int:
        with self._lock:
            return self._count()

    @property
    def dropped(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name='dropped'").fetchone()
        return row[0] if row else 0

    # -- delivery ------------------------------------------------------------------

    def _post_one(self, key: str, body: str) -> SendResult:
        # Percent-encoded: a rule name with a newline would otherwise be an invalid
        # header, retried forever, blocking every later row of the outbox.
        return post_json(self._session, self.url, json.loads(body), self.timeout_s,
                         {"Idempotency-Key": quote(key, safe=":")})

    def flush(self, sleep: Callable[[float], None] | None = None) -> SendResult:
        """Deliver the outbox oldest first; stop at the first failure (order is kept).
        ``sleep`` waits between retries (a worker passes one it can interrupt)."""
        sleep = sleep or self._sleep
        while True:
            with self._lock:
                row = self._db.execute("SELECT seq, key, body, attempts, timeouts FROM outbox "
                                       "ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return SendResult.success()
            seq, key, body, prior, timeouts = row
            tries = 0

            def attempt(key: str = key, body: str = body, prior: int = prior) -> SendResult:
                nonlocal tries, timeouts
                if timeouts >= self.max_timeouts:
                    return SendResult(False, False,
                                      f"unconfirmed: timed out {timeouts} times")
                if prior + tries:
                    self.metrics.count(self.name, "retried")
                if timeouts:
                    self.metrics.count(self.name, "duplicated_by_timeout")
                tries += 1
                result = self._post_one(key, body)
                timeouts += result.timed_out
                return result

            kwargs = {"sleep": sleep} if sleep else {}
            outcome = send_with_retry(attempt, deadline_s=self.deadline_s,
                                      what=f"{self.name} {key}", **kwargs)
            result = outcome.result
            with self._lock:
                if result.ok or not result.retry:
                    # Delivered, or given up for good (a 4xx, or unconfirmed after
                    # timeouts): either way it leaves the outbox.
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.execute("DELETE FROM outbox WHERE seq=?", (seq,))
                    if result.ok:
                        self._db.execute("INSERT OR IGNORE INTO sent VALUES (?)", (key,))
                    self._db.execute("COMMIT")
                else:
                    self._db.execute("UPDATE outbox SET attempts = attempts + ?, "
                                     "timeouts = ?, last_error = ? WHERE seq=?",
                                     (tries, timeouts, result.reason, seq))
            if result.ok:
                self.metrics.count(self.name, "delivered")
            elif not result.retry:
                log.warning("%s: dropped %s (%s)", self.name, key, result.reason)
                self.metrics.count(self.name, "dropped", 1, result.reason)
            if not result.ok:
                return result

    def send(self, notes: Sequence[Notification]) -> SendResult:
        self.enqueue(notes)
        return self.flush()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._session.close()
            self._db.close()
