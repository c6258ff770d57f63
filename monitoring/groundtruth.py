"""Ground truth: the faults a backfill injected, kept beside the samples.

The back-test and the weekly report read it to say what was caught and how fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from monitoring.sqlitedb import open_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS faults (
    kind TEXT NOT NULL, target TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL,
    params TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (kind, target, start));
"""


@dataclass(frozen=True)
class FaultRecord:
    kind: str
    target: str
    start: float
    end: float
    params: dict[str, float | str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end - self.start


class FaultLog:
    """Faults recorded in a SQLite file (the embedded store's file by default)."""

    def __init__(self, path: str | Path) -> None:
        self._db = open_db(path, _SCHEMA)

    def record(self, fault: FaultRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO faults VALUES (?, ?, ?, ?, ?)",
            (fault.kind, fault.target, fault.start, fault.end, json.dumps(fault.params)),
        )

    def between(self, start: float, end: float) -> list[FaultRecord]:
        """Faults overlapping [start, end), oldest first."""
        rows = self._db.execute(
            "SELECT kind, target, start, end, params FROM faults "
            "WHERE start < ? AND end > ? ORDER BY start",
            (end, start),
        )
        return [FaultRecord(k, t, s, e, json.loads(p)) for k, t, s, e, p in rows]

    def forget(self, start: float, end: float) -> None:
        self._db.execute("DELETE FROM faults WHERE start >= ? AND start < ?", (start, end))

    def close(self) -> None:
        self._db.close()


def open_faultlog(path: str | Path) -> FaultLog | None:
    """The fault log kept beside the embedded store, whichever store serves history.

    None when no backfill has written one there (a live-only or Prometheus setup).
    """
    return FaultLog(path) if Path(path).exists() else None
