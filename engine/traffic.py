"""Seeded traffic: diurnal and weekly shape, regional mix, endpoint mix, skewed users.

Each minute's requests come from an RNG seeded by (seed, minute), so any range
yields the same requests however it is split into calls.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from engine.config import EngineConfig
from engine.db.seed import TONES, seed_session_count, session_id, user_id
from engine.personas import PERSONA_IDS

MINUTE = 60
_WEEK_START_OFFSET_DAYS = 3  # the epoch began on a Thursday; Monday = day 0 below


@dataclass(frozen=True, slots=True)
class Request:
    ts: float
    region: str
    method: str
    path: str
    body: bytes = b""


# (weight, kind): the endpoint mix of a typical minute.
ENDPOINT_MIX: tuple[tuple[float, str], ...] = (
    (0.40, "recommend"), (0.15, "route"), (0.04, "personas"), (0.06, "persona"),
    (0.05, "create_session"), (0.06, "session"), (0.07, "feedback"),
    (0.06, "get_prefs"), (0.02, "put_prefs"), (0.01, "bulk"), (0.02, "summary"),
    (0.02, "health"), (0.03, "v1_recommend"), (0.01, "v1_route"),
)

MESSAGES: tuple[str, ...] = (
    "How do I prepare for a job interview next week?",
    "My python code has a bug and the api server fails",
    "I feel stressed and overwhelmed at work, no motivation",
    "Help me brainstorm ideas for a short story",
    "What skills should I learn for a career in data analysis?",
    "How can I build a daily exercise habit?",
    "Can you review the design of my logo and layout?",
    "Why does my database query get slower every week?",
    "I want a promotion, what should I tell my manager?",
    "Give me a plan to achieve my goals this month",
    "Write a poem about the sea",
    "Explain these statistics and the trend in my chart",
    "I'm anxious about a deadline tomorrow, help!",
    "Which book should I read to understand algorithms?",
    "I'm excited, I just got a new role! What next?",
    "How do I organise my week to stop procrastinating?",
    "Draft a blog article on remote work",
    "The deploy broke our system performance, how to debug?",
    "I think I need more balance and rest, I feel tired",
    "Sketch three visual concepts for an illustration",
    "Should I change career or keep studying?",
    "How to fix a memory error in my software?",
    "What is the meaning of a good mentor?",
    "hello",
)


@dataclass(frozen=True, slots=True)
class Ramp:
    """A demand factor moving linearly from 1 at ``t0`` to ``factor`` at ``t1``, then held."""

    t0: float
    t1: float
    factor: float

    def at(self, ts: float) -> float:
        if ts >= self.t1:
            return self.factor
        if ts <= self.t0:
            return 1.0
        return 1.0 + (self.factor - 1.0) * (ts - self.t0) / (self.t1 - self.t0)


class Demand:
    """Multipliers on the modelled request rate (a surge, a drop, a slow sag).

    Each is keyed by whoever set it and applies to one region or, with
    ``region=None``, to all; overlapping ones multiply.
    """

    def __init__(self) -> None:
        self._ramps: dict[str, tuple[str | None, Ramp]] = {}

    def __bool__(self) -> bool:
        return bool(self._ramps)

    def set(self, key: str, region: str | None, ramp: Ramp) -> None:
        if not ramp.factor > 0:
            raise ValueError(f"demand factor must be positive, got {ramp.factor}")
        self._ramps[key] = (region, ramp)

    def clear(self, key: str) -> None:
        self._ramps.pop(key, None)

    def factor(self, region: str, ts: float) -> float:
        out = 1.0
        for applies_to, ramp in self._ramps.values():
            if applies_to is None or applies_to == region:
                out *= ramp.at(ts)
        return out


def _zipf_cdf(n: int, skew: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=float) ** skew
    return np.cumsum(weights) / weights.sum()


class TrafficModel:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        t = self.config.traffic
        self._regions = list(self.config.regions)
        shares = np.array([r.traffic_share for r in self.config.regions.values()])
        self._shares = shares / shares.sum()
        self._offsets = [r.utc_offset_h for r in self.config.regions.values()]
        self._kinds = [k for _, k in ENDPOINT_MIX]
        weights = np.array([w for w, _ in ENDPOINT_MIX])
        self._kind_cdf = np.cumsum(weights) / weights.sum()
        self._user_cdf = _zipf_cdf(t.users, t.user_skew)
        self._msg_cdf = _zipf_cdf(len(MESSAGES), t.message_skew)
        self._session_cdf = _zipf_cdf(seed_session_count(self.config.database.seed_rows),
                                      t.user_skew)
        self.demand = Demand()  # faults on the client side: surges, drops, sags

    # -- shape ---------------------------------------------------------------
    def shape(self, ts: float, utc_offset_h: int) -> float:
        """Relative load in (0, 1] at local time: day peak ~14:00, trough ~02:00."""
        t = self.config.traffic
        local = ts + utc_offset_h * 3600
        hour = (local % 86_400) / 3600
        day = int(local // 86_400 + _WEEK_START_OFFSET_DAYS) % 7
        bump = 0.5 * (1 - math.cos(2 * math.pi * (hour - 2) / 24))
        daily = t.night_factor + (1 - t.night_factor) * bump
        return daily * (t.weekend_factor if day >= 5 else 1.0)

    def rate_per_minute(self, ts: float) -> dict[str, float]:
        peak = self.config.traffic.peak_requests_per_minute
        rates = {r: peak * float(s) * self.shape(ts, off)
                 for r, s, off in zip(self._regions, self._shares, self._offsets, strict=True)}
        if self.demand:
            rates = {r: v * self.demand.factor(r, ts) for r, v in rates.items()}
        return rates

    # -- requests ------------------------------------------------------------
    def requests_for(self, start_ts: float, end_ts: float) -> list[Request]:
        """Requests with ``start_ts <= ts < end_ts``, sorted by time."""
        out: list[Request] = []
        for minute in range(int(start_ts // MINUTE), math.ceil(end_ts / MINUTE)):
            for req in self._minute(minute):
                if start_ts <= req.ts < end_ts:
                    out.append(req)
        out.sort(key=lambda r: r.ts)
        return out

    def _minute(self, minute: int) -> list[Request]:
        rng = np.random.default_rng([self.config.seed, minute])
        t0 = minute * MINUTE
        rates = self.rate_per_minute(t0 + MINUTE / 2)
        out = []
        for region, rate in rates.items():
            n = int(rng.poisson(rate))
            if n == 0:
                continue
            times = t0 + np.sort(rng.random(n)) * MINUTE
            kinds = np.searchsorted(self._kind_cdf, rng.random(n), side="right")
            users = np.searchsorted(self._user_cdf, rng.random(n), side="right")
            msgs = np.searchsorted(self._msg_cdf, rng.random(n), side="right")
            extra = rng.random((n, 3))
            for i in range(n):
                method, path, body = self._build(self._kinds[min(kinds[i], len(self._kinds) - 1)],
                                                 user_id(int(users[i])),
                                                 MESSAGES[min(int(msgs[i]), len(MESSAGES) - 1)],
                                                 extra[i])
                out.append(Request(float(times[i]), region, method, path, body))
        return out

    def _build(self, kind: str, user: str, message: str,
               u: np.ndarray) -> tuple[str, str, bytes]:
        persona = PERSONA_IDS[int(u[0] * len(PERSONA_IDS))]
        match kind:
            case "recommend":
                return "POST", "/v2/recommend", _json(user_id=user, message=message)
            case "route":
                return "POST", "/v2/route", _json(message=message)
            case "personas":
                return "GET", "/v2/personas", b""
            case "persona":
                # A few clients ask for personas that do not exist (404s).
                pid = "oracle" if u[1] < 0.02 else persona
                return "GET", f"/v2/personas/{pid}", b""
            case "create_session":
                return "POST", "/v2/sessions", _json(user_id=user, persona_id=persona)
            case "session":
                k = int(np.searchsorted(self._session_cdf, u[1] / 0.98, side="right"))
                sid = "s-missing" if u[1] >= 0.98 else session_id(
                    min(k, len(self._session_cdf) - 1))
                return "GET", f"/v2/sessions/{sid}", b""
            case "feedback":
                rating = 1 + min(4, int((u[1] ** 0.6) * 5))  # skewed towards good ratings
                return "POST", "/v2/feedback", _json(user_id=user, persona_id=persona,
                                                     rating=rating)
            case "get_prefs":
                return "GET", f"/v2/users/{user}/preferences", b""
            case "put_prefs":
                return "PUT", f"/v2/users/{user}/preferences", _json(
                    tone=TONES[int(u[1] * len(TONES))], language="en",
                    preferred_persona=persona)
            case "bulk":
                items = [{"user_id": user, "message": MESSAGES[(int(u[1] * 97) + j) %
                                                               len(MESSAGES)]}
                         for j in range(5 + int(u[2] * 16))]
                return "POST", "/v2/bulk-process", _json(items=items)
            case "summary":
                window = 3600 if u[1] < 0.7 else 86_400
                return "GET", f"/v2/analytics/summary?window_s={window}", b""
            case "health":
                return "GET", "/v2/health", b""
            case "v1_recommend":
                return "POST", "/v1/recommend", _json(user=user, text=message)
            case _:
                return "POST", "/v1/route", _json(text=message)


def _json(**payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
