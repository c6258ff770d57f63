"""Deterministic seed rows, generated once and loaded into every region."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.personas import PERSONAS

SeedData = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]
TONES = ("friendly", "direct", "formal", "playful")
LANGUAGES = ("en", "de", "fr", "ja", "es")
SESSION_SHARE = 5  # one seeded session per this many analytics rows
DAY_S = 86_400.0


def user_id(k: int) -> str:
    return f"u{k}"


def session_id(k: int) -> str:
    return f"s{k}"


def seed_session_count(seed_rows: int) -> int:
    return seed_rows // SESSION_SHARE


def build_seed(seed_rows: int, users: int, now: float, seed: int) -> SeedData:
    rng = np.random.default_rng(seed)
    personas = [p.id for p in PERSONAS]
    n_personas = len(personas)

    a_users = rng.integers(0, users, seed_rows)
    a_personas = rng.integers(0, n_personas, seed_rows)
    a_ratings = rng.integers(1, 6, seed_rows)
    a_ts = now - rng.uniform(0, 30 * DAY_S, seed_rows)
    analytics = [(f"a{i}", user_id(int(u)), personas[int(p)], "feedback", int(r), float(t))
                 for i, (u, p, r, t) in enumerate(zip(a_users, a_personas, a_ratings, a_ts,
                                                      strict=True))]

    n_sessions = seed_session_count(seed_rows)
    s_users = rng.integers(0, users, n_sessions)
    s_personas = rng.integers(0, n_personas, n_sessions)
    s_ts = now - rng.uniform(0, 30 * DAY_S, n_sessions)
    sessions = [(session_id(i), user_id(int(u)), personas[int(p)], float(t))
                for i, (u, p, t) in enumerate(zip(s_users, s_personas, s_ts, strict=True))]

    # Half the users have saved preferences; the rest get the defaults.
    prefs = [(user_id(k), TONES[k % len(TONES)], LANGUAGES[k % len(LANGUAGES)],
              personas[k % n_personas] if k % 3 == 0 else None, now - DAY_S)
             for k in range(0, users, 2)]
    audit = [(f"seed{i}", "system", "seed", f"batch {i}", now - DAY_S) for i in range(10)]

    return {
        "personas": (("id", "name", "description"),
                     [(p.id, p.name, p.description) for p in PERSONAS]),
        "user_preferences": (("user_id", "tone", "language", "preferred_persona",
                              "updated_at"), prefs),
        "sessions": (("id", "user_id", "persona_id", "created_at"), sessions),
        "analytics": (("id", "user_id", "persona_id", "event", "rating", "ts"), analytics),
        "audit_log": (("id", "actor", "action", "detail", "ts"), audit),
    }
