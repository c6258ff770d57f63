"""Evaluate rules at a given time: inactive → pending → firing → resolved.

``evaluate(rules, now, query, state)`` takes the time and a query function and never
reads the wall clock, so tests and back-fills drive it with synthetic time. One
alert per rule (its bounds are grouped into it); a state change is reported once,
stored with the state, and survives a restart (``alerts.state``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from alerts.rules import OVER_STEP_S, Rule
from monitoring.store.base import Store

State = Literal["inactive", "pending", "firing", "resolved"]
# Keep a resolved alert this long (as Prometheus does) so the resolution can be resent
# to a receiver that missed it; after that it is forgotten (inactive).
RESOLVED_RETENTION_S = 15 * 60
# A sample older than this is not "now": a stale series is no data, not a breach.
STALENESS_S = 5 * 60

Query = Callable[[str, float], "float | None"]


@dataclass(frozen=True)
class AlertState:
    rule: str
    state: State = "inactive"
    active_since: float | None = None  # first evaluation of this episode's breach
    fired_at: float | None = None
    resolved_at: float | None = None
    value: float | None = None  # the breaching value last seen
    metric: str | None = None
    severity: str = "warning"
    summary: str = ""
    health: str = "ok"  # "ok" | "no data" | "error: ..."
    last_eval: float | None = None
    # While firing: the first evaluation its condition was clear (``keep_firing_for``).
    clear_since: float | None = None


@dataclass(frozen=True)
class Transition:
    rule: str
    at: float
    old: State
    new: State
    alert: AlertState


def breach(rule: Rule, now: float, query: Query) -> tuple[bool, str | None, float | None, bool]:
    """(breached?, metric, value, had data?) for one rule at ``now``."""
    had_data = False
    ts = np.array([now])
    for b in rule.bounds:
        v = query(b.metric, now) if not rule.over_s else _trailing_mean(b.metric, rule, now,
                                                                         query)
        if v is None or not math.isfinite(v):
            continue
        had_data = True
        if bool(b.breached(ts, np.array([v]))[0]):
            return True, b.metric, v, True
    return False, None, None, had_data


def _trailing_mean(metric: str, rule: Rule, now: float, query: Query) -> float | None:
    """The mean over (now - over, now] at the rules' sampling step, as the back-test's
    ``trailing_mean`` over its 1-minute grid and Prometheus's subquery read it."""
    seen = [v for j in range(int(rule.over_s // OVER_STEP_S))
            if (v := query(metric, now - j * OVER_STEP_S)) is not None and math.isfinite(v)]
    return sum(seen) / len(seen) if seen else None


def step(rule: Rule, prior: AlertState, breached: bool, metric: str | None,
         value: float | None, now: float) -> AlertState:
    """The next state of one alert: a pure function of the last and this evaluation."""
    s = replace(prior, severity=rule.severity, summary=rule.summary, last_eval=now)
    if breached:
        s = replace(s, value=value, metric=metric, clear_since=None)
        if prior.state in ("inactive", "resolved"):
            s = replace(s, state="pending", active_since=now, fired_at=None, resolved_at=None)
        since = now if s.active_since is None else s.active_since  # 0.0 is a valid time
        if s.state == "pending" and now - since >= rule.for_s:
            s = replace(s, state="firing", fired_at=now)
        return s
    if prior.state == "firing":
        since = now if prior.clear_since is None else prior.clear_since
        if now - since < rule.keep_firing_s:
            return replace(s, clear_since=since)
        return replace(s, state="resolved", resolved_at=now, clear_since=None)
    if prior.state == "pending":
        return replace(s, state="inactive", active_since=None, value=None, metric=None)
    resolved_at = now if prior.resolved_at is None else prior.resolved_at
    if prior.state == "resolved" and now - resolved_at >= RESOLVED_RETENTION_S:
        return replace(s, state="inactive", active_since=None, fired_at=None, resolved_at=None,
                       value=None, metric=None)
    return s


def evaluate(rules: Sequence[Rule], now: float, query: Query,
             states: dict[str, AlertState]) -> tuple[dict[str, AlertState], list[Transition]]:
    """All rules at ``now``; returns the new states and the changes. One bad rule (its
    query raising) is marked unhealthy and keeps its state; the others go on."""
    out = dict(states)
    changes = []
    for rule in rules:
        prior = states.get(rule.id, AlertState(rule.id))
        try:
            hit, metric, value, had_data = breach(rule, now, query)
        except Exception as exc:  # one broken query must not stop the group
            out[rule.id] = replace(prior, health=f"error: {exc}", last_eval=now)
            continue
        new = step(rule, prior, hit, metric, value, now)
        new = replace(new, health="ok" if had_data else "no data")
        out[rule.id] = new
        if new.state != prior.state:
            changes.append(Transition(rule.id, now, prior.state, new.state, new))
    return out, changes


def latest_index(ts: np.ndarray, now: float, staleness_s: float = STALENESS_S) -> int | None:
    """Where in sorted ``ts`` the latest sample at or before ``now`` is, when it is no
    older than ``staleness_s``; None when stale or absent. The one staleness rule of
    every query over series read ahead (replay, back-test, burn rates)."""
    i = int(np.searchsorted(ts, now, side="right")) - 1
    return None if i < 0 or now - ts[i] > staleness_s else i


def store_query(store: Store, staleness_s: float = STALENESS_S) -> Query:
    """The latest value at or before ``now`` within ``staleness_s``; None if stale."""
    def query(metric: str, now: float) -> float | None:
        s = store.read(metric, now - staleness_s, now)
        if len(s) == 0:
            return None
        return float(s.values[-1])
    return query
