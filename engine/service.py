"""The suggestion service of one region: domain operations over cache, DB and pipeline.

Reads go to the region's own database (a replica may be behind); writes go
through the primary's ``Writer`` and reach replicas by replication.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.cache.tiered import TieredCache
from engine.clock import Clock
from engine.db.database import Database
from engine.db.replication import Writer
from engine.db.schema import USER_HISTORY_SQL
from engine.personas import PERSONA_IDS
from engine.pipeline import Pipeline

DEFAULT_PREFS: dict[str, Any] = {"tone": "friendly", "language": "en",
                                 "preferred_persona": None}


@dataclass(frozen=True, slots=True)
class BulkItem:
    user_id: str
    message: str


class NotFound(LookupError):
    """The requested entity does not exist (in this region's view)."""


class Service:
    def __init__(self, region: str, role: str, cache: TieredCache, db: Database,
                 writer: Writer, pipeline: Pipeline, clock: Clock,
                 instance: str | None = None) -> None:
        self.region = region
        self._instance = instance or region  # the region's instance serving
        self.role = role
        self._cache = cache
        self._db = db
        self._writer = writer
        self.pipeline = pipeline
        self._clock = clock
        self._ids = itertools.count(1)

    def _new_id(self, prefix: str) -> str:
        # Unique across regions and their instances: every write lands on the primary.
        return f"{prefix}-{self._instance}-{int(self._clock.now() * 1000)}-{next(self._ids)}"

    # -- reads ---------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return {"status": "ok", "region": self.region, "role": self.role}

    def personas(self) -> list[dict[str, Any]]:
        return self._cache.get_or_load("personas:all", lambda: [
            {"id": r[0], "name": r[1], "description": r[2]}
            for r in self._db.query("list_personas",
                                     "SELECT id, name, description FROM personas ORDER BY id")
        ])

    def persona(self, persona_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any] | None:
            rows = self._db.query("get_persona",
                                  "SELECT id, name, description FROM personas WHERE id = ?",
                                  (persona_id,))
            return {"id": rows[0][0], "name": rows[0][1], "description": rows[0][2]} \
                if rows else None

        found = self._cache.get_or_load(f"persona:{persona_id}", load)
        if found is None:
            raise NotFound(f"persona {persona_id!r} not found")
        return found

    def preferences(self, user_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            rows = self._db.query(
                "get_preferences",
                "SELECT tone, language, preferred_persona FROM user_preferences "
                "WHERE user_id = ?", (user_id,))
            if not rows:
                return dict(DEFAULT_PREFS)
            tone, language, preferred = rows[0]
            return {"tone": tone, "language": language, "preferred_persona": preferred}

        return self._cache.get_or_load(f"prefs:{user_id}", load)

    def history(self, user_id: str) -> list[dict[str, Any]]:
        return self._cache.get_or_load(f"history:{user_id}", lambda: [
            {"persona_id": r[0], "event": r[1], "rating": r[2], "ts": r[3]}
            for r in self._db.query("user_history", USER_HISTORY_SQL, (user_id,))
        ])

    def session(self, session_id: str) -> dict[str, Any]:
        def load() -> dict[str, Any] | None:
            rows = self._db.query(
                "get_session",
                "SELECT id, user_id, persona_id, created_at FROM sessions WHERE id = ?",
                (session_id,))
            if not rows:
                return None
            sid, user, persona, created = rows[0]
            return {"id": sid, "user_id": user, "persona_id": persona, "created_at": created}

        found = self._cache.get_or_load(f"session:{session_id}", load)
        if found is None:
            raise NotFound(f"session {session_id!r} not found")
        return found

    def analytics_summary(self, window_s: float) -> dict[str, Any]:
        since = self._clock.now() - window_s
        rows = self._db.query(
            "analytics_summary",
            "SELECT persona_id, COUNT(*), AVG(rating) FROM analytics WHERE ts >= ? "
            "GROUP BY persona_id ORDER BY persona_id", (since,))
        return {"region": self.region, "window_s": window_s,
                "personas": [{"persona_id": p, "events": int(n),
                              "avg_rating": round(float(a), 3) if a is not None else None}
                             for p, n, a in rows]}

    # -- routing and recommendations ---------------------------------------------
    def route(self, message: str) -> dict[str, Any]:
        d = self.pipeline.route(message)
        return {"persona": d.persona, "confidence": d.confidence}

    def recommend(self, user_id: str, message: str) -> dict[str, Any]:
        prefs = self.preferences(user_id)
        history = self.history(user_id)
        rec = self.pipeline.recommend(message, prefs, history)
        return {"user_id": user_id, "persona": rec.persona, "confidence": rec.confidence,
                "prompt": rec.prompt, "region": self.region}

    def bulk(self, items: Sequence[BulkItem]) -> list[dict[str, Any]]:
        results = []
        for item in items:
            rec = self.pipeline.recommend(item.message, DEFAULT_PREFS, ())
            results.append({"user_id": item.user_id, "persona": rec.persona,
                            "confidence": rec.confidence})
        return results

    # -- writes (through the primary) ------------------------------------------
    def create_session(self, user_id: str, persona_id: str | None) -> dict[str, Any]:
        persona = persona_id or PERSONA_IDS[0]
        if persona not in PERSONA_IDS:
            raise NotFound(f"persona {persona!r} not found")
        sid = self._new_id("s")
        now = self._clock.now()
        self._writer.write("insert_session", [
            ("INSERT INTO sessions (id, user_id, persona_id, created_at) VALUES (?, ?, ?, ?)",
             (sid, user_id, persona, now)),
        ])
        return {"id": sid, "user_id": user_id, "persona_id": persona, "created_at": now}

    def feedback(self, user_id: str, persona_id: str, rating: int) -> dict[str, Any]:
        if persona_id not in PERSONA_IDS:
            raise NotFound(f"persona {persona_id!r} not found")
        now = self._clock.now()
        fid = self._new_id("f")
        self._writer.write("insert_feedback", [
            ("INSERT INTO analytics (id, user_id, persona_id, event, rating, ts) "
             "VALUES (?, ?, ?, 'feedback', ?, ?)", (fid, user_id, persona_id, rating, now)),
            ("INSERT INTO audit_log (id, actor, action, detail, ts) VALUES (?, ?, ?, ?, ?)",
             (fid, user_id, "feedback", f"{persona_id}:{rating}", now)),
        ])
        self._cache.invalidate(f"history:{user_id}")
        return {"id": fid, "accepted": True}

    def put_preferences(self, user_id: str, prefs: dict[str, Any]) -> dict[str, Any]:
        now = self._clock.now()
        self._writer.write("upsert_preferences", [
            ("INSERT INTO user_preferences (user_id, tone, language, preferred_persona, "
             "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
             "tone = excluded.tone, language = excluded.language, "
             "preferred_persona = excluded.preferred_persona, updated_at = excluded.updated_at",
             (user_id, prefs["tone"], prefs["language"], prefs["preferred_persona"], now)),
            ("INSERT INTO audit_log (id, actor, action, detail, ts) VALUES (?, ?, ?, ?, ?)",
             (self._new_id("p"), user_id, "preferences", prefs["tone"], now)),
        ])
        self._cache.invalidate(f"prefs:{user_id}")
        return {"user_id": user_id, **prefs}
