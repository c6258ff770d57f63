"""Synthetic one-minute SLO series: clean traffic with an error ratio switched on and off."""

from __future__ import annotations

import numpy as np

from alerts.evaluator import evaluate
from alerts.slo import SLO
from alerts.slo_rules import condition_series, query_from_arrays, slo_rules

START = 1_793_577_600.0  # a Monday, 00:00 UTC
EVENTS_PER_MIN = 300  # requests in a minute's 5-minute rate window at 1 req/s


def minutes(days: float) -> np.ndarray:
    return START + 60.0 * np.arange(1, int(days * 1440) + 1)


def availability(ts: np.ndarray, error_ratio: np.ndarray, seed: int = 3) -> np.ndarray:
    """Percent good per minute, with binomial noise on EVENTS_PER_MIN events."""
    rng = np.random.default_rng(seed)
    bad = rng.binomial(EVENTS_PER_MIN, np.clip(error_ratio, 0, 1))
    return 100.0 * (1 - bad / EVENTS_PER_MIN)


def step(ts: np.ndarray, start: float, end: float, ratio: float,
         background: float = 1e-5) -> np.ndarray:
    return np.where((ts > start) & (ts <= end), ratio, background)


def run_alerts(slo: SLO, ts: np.ndarray, values: np.ndarray,
               weights: np.ndarray | None = None) -> list[tuple[str, str, float]]:
    """Every (rule, new state, at) the evaluator reports, minute by minute."""
    series = condition_series(slo, ts, values, weights)
    query = query_from_arrays(ts, series, lambda metric, now: None)
    rules = slo_rules([slo])
    states: dict = {}
    out = []
    for now in ts:
        states, changes = evaluate(rules, float(now), query, states)
        out += [(c.rule, c.new, c.at) for c in changes if c.new in ("firing", "resolved")]
    return out
