"""Silences and maintenance windows: "is this alert muted now?", kept in SQLite.

A silence matches alerts by label equality (``alertname``, ``severity``, ``slo``, ...)
between ``starts_at`` and ``ends_at``; expiring one sets ``ends_at`` to now. A muted
notification is recorded (``suppressed``) instead of sent, and the latest one per
alert is held: when its silence ends and the alert still fires, it is sent then. An
alert that fired and resolved entirely under a silence notifies nothing, as in
Alertmanager.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from alerts.notify.base import Notification
from monitoring.sqlitedb import open_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_at REAL NOT NULL,
    ends_at REAL NOT NULL, created_by TEXT NOT NULL, comment TEXT NOT NULL,
    remote_id TEXT);
CREATE TABLE IF NOT EXISTS held (rule TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS suppressed (
    key TEXT PRIMARY KEY, rule TEXT NOT NULL, state TEXT NOT NULL, at REAL NOT NULL,
    silence TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: Mapping[str, str]  # label -> value, all must equal
    starts_at: float
    ends_at: float
    created_by: str = "ionmon"
    comment: str = ""
    remote_id: str | None = None  # the Alertmanager silence it mirrors

    def __post_init__(self) -> None:
        if not self.matchers:
            raise ValueError("a silence needs at least one matcher (e.g. alertname=...)")
        if self.ends_at <= self.starts_at:
            raise ValueError("a silence must end after it starts")

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.matchers.items())


def alert_labels(n: Notification, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels a silence matches a notification on."""
    return {"alertname": n.rule, "severity": n.severity, **(extra or {})}


def parse_matchers(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected label=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


class SilenceStore:
    def __init__(self, path: str | Path) -> None:
        self._db = open_db(path, _SCHEMA)
        self._lock = threading.Lock()

    # -- silences --------------------------------------------------------------------

    def add(self, matchers: Mapping[str, str], starts_at: float, ends_at: float,
            created_by: str = "ionmon", comment: str = "") -> Silence:
        s = Silence(secrets.token_hex(6), dict(matchers), starts_at, ends_at, created_by,
                    comment)
        with self._lock, self._db:
            self._db.execute("INSERT INTO silences VALUES (?, ?, ?, ?, ?, ?, NULL)",
                             (s.id, json.dumps(dict(s.matchers), sort_keys=True), s.starts_at,
                              s.ends_at, s.created_by, s.comment))
        return s

    def set_remote(self, silence_id: str, remote_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE silences SET remote_id=? WHERE id=?", (remote_id, silence_id))

    def expire(self, silence_id: str, now: float) -> Silence:
        with self._lock, self._db:
            row = self._db.execute("SELECT * FROM silences WHERE id=?", (silence_id,)).fetchone()
            if row is None:
                raise KeyError(f"no silence {silence_id!r}")
            self._db.execute("UPDATE silences SET ends_at=MIN(ends_at, ?) WHERE id=?",
                             (max(now, row[2] + 1e-3), silence_id))
        return self.get(silence_id)

    def get(self, silence_id: str) -> Silence:
        found = [s for s in self.all() if s.id == silence_id]
        if not found:
            raise KeyError(f"no silence {silence_id!r}")
        return found[0]

    def all(self) -> list[Silence]:
        with self._lock:
            rows = self._db.execute("SELECT id, matchers, starts_at, ends_at, created_by, "
                                    "comment, remote_id FROM silences ORDER BY starts_at"
                                    ).fetchall()
        return [Silence(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def active(self, now: float) -> list[Silence]:
        return [s for s in self.all() if s.active(now)]

    def silencing(self, labels: Mapping[str, str], now: float) -> Silence | None:
        return next((s for s in self.active(now) if s.matches(labels)), None)

    # -- muted notifications ---------------------------------------------------------

    def hold(self, n: Notification, silence: Silence) -> None:
        """Record ``n`` as suppressed and keep it to send when the silence ends."""
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO suppressed VALUES (?, ?, ?, ?, ?)",
                             (n.key, n.rule, n.state, n.at, silence.id))
            row = self._db.execute("SELECT body FROM held WHERE rule=?", (n.rule,)).fetchone()
            if n.state == "resolved" and row and json.loads(row[0])["state"] == "firing":
                # Fired and resolved under the silence: nothing left to tell.
                self._db.execute("DELETE FROM held WHERE rule=?", (n.rule,))
                return
            self._db.execute("INSERT OR REPLACE INTO held VALUES (?, ?)",
                             (n.rule, json.dumps(asdict(n))))

    def held(self) -> list[Notification]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM held ORDER BY rule").fetchall()
        out = []
        for (body,) in rows:
            d = json.loads(body)
            d["checks"] = tuple(d.get("checks", ()))
            out.append(Notification(**d))
        return out

    def release(self, rule: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM held WHERE rule=?", (rule,))

    def suppressed(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT key, rule, state, at, silence FROM suppressed "
                                    "ORDER BY at").fetchall()
        return [dict(zip(("key", "rule", "state", "at", "silence"), r, strict=True))
                for r in rows]

    def close(self) -> None:
        self._db.close()


def split_silenced(notes: Sequence[Notification], store: SilenceStore, now: float,
                   labels: Mapping[str, Mapping[str, str]] | None = None
                   ) -> tuple[list[Notification], list[Notification]]:
    """(to send, held back): each muted one is recorded and held in ``store``."""
    send, muted = [], []
    for n in notes:
        s = store.silencing(alert_labels(n, (labels or {}).get(n.rule)), now)
        if s is None:
            store.release(n.rule)  # a newer change supersedes one held back
            send.append(n)
        else:
            store.hold(n, s)
            muted.append(n)
    return send, muted


def released(store: SilenceStore, firing: set[str], now: float,
             labels: Mapping[str, Mapping[str, str]] | None = None) -> list[Notification]:
    """Held notifications whose silence has ended, to send now.

    A held firing is sent only if the alert still fires; a held resolution always
    (its firing was delivered before the silence began).
    """
    out = []
    for n in store.held():
        if store.silencing(alert_labels(n, (labels or {}).get(n.rule)), now) is not None:
            continue
        store.release(n.rule)
        if n.state == "resolved" or n.rule in firing:
            out.append(n)
    return out
