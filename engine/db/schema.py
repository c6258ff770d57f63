"""Tables and indexes, in SQL both SQLite and PostgreSQL accept."""

from __future__ import annotations

TABLES: tuple[str, ...] = (
    """CREATE TABLE personas (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL)""",
    """CREATE TABLE user_preferences (
        user_id TEXT PRIMARY KEY, tone TEXT NOT NULL, language TEXT NOT NULL,
        preferred_persona TEXT, updated_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, persona_id TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE analytics (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, persona_id TEXT NOT NULL,
        event TEXT NOT NULL, rating INTEGER, ts DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE audit_log (
        id TEXT PRIMARY KEY, actor TEXT NOT NULL, action TEXT NOT NULL,
        detail TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL)""",
)

INDEXES: dict[str, str] = {
    "idx_analytics_user_ts": "CREATE INDEX idx_analytics_user_ts ON analytics (user_id, ts)",
    "idx_analytics_ts": "CREATE INDEX idx_analytics_ts ON analytics (ts)",
    "idx_sessions_user": "CREATE INDEX idx_sessions_user ON sessions (user_id)",
    "idx_audit_log_ts": "CREATE INDEX idx_audit_log_ts ON audit_log (ts)",
}
# The index the user-history lookup depends on; the default one to drop.
HISTORY_INDEX = "idx_analytics_user_ts"
# The index of the analytics summary (recent rows by time).
SUMMARY_INDEX = "idx_analytics_ts"

USER_HISTORY_SQL = ("SELECT persona_id, event, rating, ts FROM analytics "
                    "WHERE user_id = ? ORDER BY ts DESC LIMIT 20")
