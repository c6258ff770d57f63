"""JSON webhook with a durable, bounded outbox.

Notifications are first written to a SQLite outbox (surviving restarts and receiver
outages), then delivered oldest first; a row leaves the outbox only on a 2xx. Each
POST carries ``Idempotency-Key``, and a change is enqueued once (its key is unique),
so a receiver that honours the key sees every change exactly once. A full outbox
drops its oldest rows and counts them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

import requests

from alerts.notify.base import Notification, SendResult, send_with_retry
from alerts.notify.httppost import post_json
from monitoring.sqlitedb import open_db

log = logging.getLogger("ionmon.alerts.notify")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY);
"""


class WebhookNotifier:
    name = "webhook"

    def __init__(self, url: str, outbox_path: str | Path, max_queue: int = 1000,
                 timeout_s: float = 5.0, deadline_s: float = 30.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.url = url
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self._sleep = sleep
        self._session = requests.Session()
        self._db = open_db(outbox_path, _SCHEMA)
        self._lock = threading.Lock()

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
                log.warning("webhook outbox full (%d): dropped %d oldest", self.max_queue, over)
            self._db.execute("COMMIT")
        return added

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

    def flush(self) -> SendResult:
        """Deliver the outbox oldest first; stop at the first failure (order is kept)."""
        while True:
            with self._lock:
                row = self._db.execute(
                    "SELECT seq, key, body FROM outbox ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return SendResult.success()
            seq, key, body = row
            kwargs = {"sleep": self._sleep} if self._sleep else {}
            outcome = send_with_retry(lambda k=key, b=body: self._post_one(k, b),
                                      deadline_s=self.deadline_s, what=f"webhook {key}",
                                      **kwargs)
            with self._lock:
                if outcome.result.ok or not outcome.result.retry:
                    # Delivered, or refused for good (a 4xx): either way it leaves the outbox.
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.execute("DELETE FROM outbox WHERE seq=?", (seq,))
                    if outcome.result.ok:
                        self._db.execute("INSERT OR IGNORE INTO sent VALUES (?)", (key,))
                    self._db.execute("COMMIT")
                else:
                    self._db.execute("UPDATE outbox SET attempts = attempts + ?, last_error = ? "
                                     "WHERE seq=?", (outcome.attempts, outcome.result.reason, seq))
            if not outcome.result.ok:
                return outcome.result

    def send(self, notes: Sequence[Notification]) -> SendResult:
        self.enqueue(notes)
        return self.flush()

    def close(self) -> None:
        self._session.close()
        self._db.close()
