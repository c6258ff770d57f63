"""Alert state and history in SQLite, so a restart neither forgets nor re-sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

from alerts.evaluator import AlertState, Transition
from alerts.notify.base import Notification
from monitoring.sqlitedb import open_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (rule TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, at REAL NOT NULL,
    old TEXT NOT NULL, new TEXT NOT NULL, value REAL, metric TEXT,
    UNIQUE (rule, at, new));
CREATE TABLE IF NOT EXISTS unqueued (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
"""
_FIELDS = {f.name for f in fields(AlertState)}


def _note(body: str) -> Notification:
    d = json.loads(body)
    d["checks"] = tuple(d.get("checks", ()))  # JSON has no tuples
    return Notification(**d)


class AlertStore:
    """Current state per rule and every state change, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self._db = open_db(path, _SCHEMA)
        self._lock = threading.Lock()

    def load(self) -> dict[str, AlertState]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM alert_state").fetchall()
        out = {}
        for (data,) in rows:
            d = {k: v for k, v in json.loads(data).items() if k in _FIELDS}
            out[d["rule"]] = AlertState(**d)
        return out

    def save(self, states: dict[str, AlertState], changes: Sequence[Transition],
             notes: Sequence[Notification] = ()) -> None:
        """States, their changes and the notifications they cause in one transaction:
        all are kept, or none. The notifications wait in ``unqueued`` until the durable
        outboxes hold them, so a crash between the two cannot lose one."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO unqueued (key, body) VALUES (?, ?)",
                    [(n.key, json.dumps(asdict(n))) for n in notes])
                self._db.executemany(
                    "INSERT OR REPLACE INTO alert_state VALUES (?, ?)",
                    [(rule, json.dumps(asdict(s))) for rule, s in states.items()])
                self._db.executemany(
                    "INSERT OR IGNORE INTO alert_history (rule, at, old, new, value, metric) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(t.rule, t.at, t.old, t.new, t.alert.value, t.alert.metric)
                     for t in changes])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def unqueued(self) -> list[Notification]:
        """Saved notifications not yet handed to the outboxes, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM unqueued ORDER BY seq").fetchall()
        return [_note(body) for (body,) in rows]

    def mark_queued(self, keys: Sequence[str]) -> None:
        with self._lock, self._db:
            self._db.executemany("DELETE FROM unqueued WHERE key=?", [(k,) for k in keys])

    def history(self, rule: str | None = None, limit: int = 100) -> list[dict]:
        sql = "SELECT rule, at, old, new, value, metric FROM alert_history"
        args: tuple = ()
        if rule is not None:
            sql += " WHERE rule = ?"
            args = (rule,)
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        keys = ("rule", "at", "old", "new", "value", "metric")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def close(self) -> None:
        self._db.close()
