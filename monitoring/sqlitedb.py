"""One way to open the small SQLite files that hold state (faults, alerts, jobs, outbox)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_db(path: str | Path, schema: str) -> sqlite3.Connection:
    """A WAL-mode, autocommit connection shared between threads, with ``schema`` applied."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")  # a committed write survives a killed process
    db.executescript(schema)
    return db
