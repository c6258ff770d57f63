"""Error budgets and burn rates: pure functions of one-minute series.

A burn rate is a window's bad fraction divided by the budget: 1 spends the budget exactly
over the SLO window, 14.4 spends 2% of a 30-day budget in one hour. Windows are
trailing and half-open, ``(t - W, t]``, matching a sample stamped t covering the minute
before it. Missing minutes carry no events, so a gap neither burns nor saves budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from alerts.slo import SLO
from monitoring.durations import format_duration

STEP_S = 60.0
# The burn-rate windows shown on dashboards and in the report.
REPORTED_WINDOWS: tuple[float, ...] = (300, 1800, 3600, 21600, 86400, 3 * 86400)
EXHAUSTION_WINDOW_S = 3600.0  # time to exhaustion assumes the last hour's burn goes on
MIN_COVERAGE = 0.5  # a window needs data for half its minutes to have a burn rate
# A bad fraction at most this small is float rounding, not failed events: a percentage
# read near 100 from a remote store (99.99999999999997) leaves ~1e-16, while one failed
# request in an hour is a fraction above 1e-9 unless the hour held a billion requests.
NOISE_FRACTION = 1e-9


@dataclass(frozen=True)
class BurnCondition:
    """Alert when both windows burn faster than ``factor`` (SRE workbook, ch. 5).

    The long window says the burn is significant; the short one that it is still going
    on, so the alert resolves minutes after the burn stops instead of hours.
    """

    long_s: float
    short_s: float
    factor: float

    @property
    def label(self) -> str:
        return f"{format_duration(self.long_s)}&{format_duration(self.short_s)}"

    def budget_spent_to_fire(self, window_s: float) -> float:
        """The share of an SLO window's budget spent by the time this fires."""
        return self.factor * self.long_s / window_s

    def detection_time_s(self, burn: float) -> float | None:
        """Seconds from the start of a constant ``burn`` (from clean) to firing.

        The long window's mean reaches ``factor`` after ``long * factor / burn``; the
        short window's after ``short * factor / burn``, which is sooner. None when the
        burn never reaches the factor.
        """
        if burn <= self.factor:
            return None
        return self.long_s * self.factor / burn


@dataclass(frozen=True)
class BurnPolicy:
    severity: str  # "critical" pages, "warning" opens a ticket
    kind: str  # "page" | "ticket"
    conditions: tuple[BurnCondition, ...]


# 2% of a 30-day budget in 1h, 5% in 6h (page); 10% in 1d, 10% in 3d (ticket).
PAGE = BurnPolicy("critical", "page", (BurnCondition(3600, 300, 14.4),
                                       BurnCondition(21600, 1800, 6.0)))
TICKET = BurnPolicy("warning", "ticket", (BurnCondition(86400, 7200, 3.0),
                                          BurnCondition(3 * 86400, 21600, 1.0)))
POLICIES = (PAGE, TICKET)
ALERT_WINDOWS: tuple[float, ...] = tuple(sorted(
    {w for p in POLICIES for c in p.conditions for w in (c.long_s, c.short_s)}))
LONGEST_S = max(ALERT_WINDOWS)


def joined_weights(ts: np.ndarray, weight_ts: np.ndarray, weight_values: np.ndarray
                   ) -> np.ndarray:
    """The weight series at each of the indicator's timestamps (NaN where missing): both
    come from the same scrape, so their samples share timestamps."""
    lookup = dict(zip(np.asarray(weight_ts).tolist(), np.asarray(weight_values).tolist(),
                      strict=True))
    return np.array([lookup.get(t, np.nan) for t in np.asarray(ts).tolist()], dtype=float)


def events(slo: SLO, values: np.ndarray, weights: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Per minute: (bad events, all events). Minutes without data count as no events."""
    v = np.asarray(values, dtype=float)
    have = np.isfinite(v)
    ind = slo.indicator
    if ind.kind == "ratio":
        total = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=float)
        total = np.where(have & np.isfinite(total) & (total > 0), total, 0.0)
        bad_fraction = np.clip(1 - np.where(have, v, 100.0) / 100, 0.0, 1.0)
        return bad_fraction * total, total
    ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
    with np.errstate(invalid="ignore"):
        good = ops[ind.op](v, ind.value)  # type: ignore[index]
    return np.where(have & ~good, 1.0, 0.0), have.astype(float)


def window_sums(ts: np.ndarray, x: np.ndarray, window_s: float) -> np.ndarray:
    """For each sample i: the sum of ``x`` over samples in ``(ts[i] - W, ts[i]]``."""
    ts = np.asarray(ts, dtype=float)
    c = np.concatenate([[0.0], np.cumsum(x)])
    first = np.searchsorted(ts, ts - window_s, side="right")
    return c[np.arange(1, len(ts) + 1)] - c[first]


def window_ratio(ts: np.ndarray, bad: np.ndarray, total: np.ndarray,
                 window_s: float) -> np.ndarray:
    """Bad fraction over each trailing window; NaN where the window holds no events."""
    b = window_sums(ts, bad, window_s)
    t = window_sums(ts, total, window_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(t > 0, b / np.where(t > 0, t, 1.0), np.nan)


def coverage(ts: np.ndarray, total: np.ndarray, window_s: float,
             step_s: float = STEP_S) -> np.ndarray:
    """Share of each trailing window's minutes that hold events."""
    return window_sums(ts, (np.asarray(total) > 0).astype(float), window_s) * step_s / window_s


def sample_step(ts: np.ndarray, default: float = STEP_S) -> float:
    """The series' sampling step (the scrape interval): its most common spacing."""
    gaps = np.diff(np.asarray(ts, dtype=float))
    gaps = gaps[gaps > 0]
    if len(gaps) == 0:
        return default
    values, counts = np.unique(np.round(gaps, 3), return_counts=True)
    return float(values[np.argmax(counts)])


def burn_rates(slo: SLO, ts: np.ndarray, bad: np.ndarray, total: np.ndarray,
               windows: tuple[float, ...], min_coverage: float = MIN_COVERAGE,
               step_s: float | None = None) -> dict[float, np.ndarray]:
    """Burn rate per window; NaN where a window holds under ``min_coverage`` of its steps.

    A fresh store holds an hour where a 3-day window is asked for: that hour's bad
    minutes would read as the whole window's rate and open tickets on any blip.
    ``step_s`` defaults to the series' own spacing, so any scrape interval works.
    """
    step = sample_step(ts) if step_s is None else step_s
    out = {}
    for w in windows:
        rate = window_ratio(ts, bad, total, w) / slo.budget
        out[w] = np.where(coverage(ts, total, w, step) >= min_coverage, rate, np.nan)
    return out


def condition_value(burn: Mapping[float, np.ndarray], c: BurnCondition) -> np.ndarray:
    """The burn both windows sustain: above ``factor`` exactly when the condition holds.
    NaN (no data) when either window holds no events."""
    return np.minimum(burn[c.long_s], burn[c.short_s])


@dataclass(frozen=True)
class Budget:
    """One SLO's budget at one time."""

    slo: str
    title: str
    objective: float  # percent
    window_s: float
    at: float
    sli: float | None  # percent good over the window (the data it has)
    spent: float | None  # share of the window's budget consumed
    burn: tuple[tuple[float, float | None], ...]  # (window seconds, burn rate)
    exhaustion_s: float | None  # at the last hour's burn; None when not burning
    coverage: float  # share of the window with data

    @property
    def remaining(self) -> float | None:
        return None if self.spent is None else 1.0 - self.spent

    def burn_at(self, window_s: float) -> float | None:
        return dict(self.burn).get(window_s)


def spent_share(slo: SLO, bad: np.ndarray, total: np.ndarray, window_total: np.ndarray,
                step_s: float = STEP_S) -> float | None:
    """Bad events in ``bad`` as a share of the SLO window's budget.

    The window's events are estimated from the mean events per minute in
    ``window_total`` times the window's minutes, so a store holding only part of the
    window (a fresh install) still reports the share of the full window's budget.
    """
    n = int(np.count_nonzero(window_total > 0))
    if n == 0:
        return None
    per_minute = float(np.sum(window_total)) / n
    allowed = slo.budget * per_minute * (slo.window / step_s)
    return float(np.sum(bad)) / allowed if allowed > 0 else None


def budget_at(slo: SLO, ts: np.ndarray, values: np.ndarray, weights: np.ndarray | None,
              at: float, windows: tuple[float, ...] = REPORTED_WINDOWS,
              step_s: float | None = None) -> Budget:
    """The budget over ``(at - window, at]`` and the burn rates ending at ``at``;
    ``step_s`` (the scrape interval) defaults to the series' own spacing."""
    ts = np.asarray(ts, dtype=float)
    if step_s is None:
        step_s = sample_step(ts)
    keep = (ts > at - slo.window) & (ts <= at)
    ts, values = ts[keep], np.asarray(values, dtype=float)[keep]
    weights = None if weights is None else np.asarray(weights, dtype=float)[keep]
    bad, total = events(slo, values, weights)
    spent = spent_share(slo, bad, total, total, step_s)
    sli = None
    if total.sum() > 0:
        sli = 100.0 * (1 - float(bad.sum()) / float(total.sum()))
    burn: list[tuple[float, float | None]] = []
    for w in windows:
        sel = ts > at - w
        t = float(total[sel].sum())
        burn.append((w, float(bad[sel].sum()) / t / slo.budget if t > 0 else None))
    last_hour = dict(burn).get(EXHAUSTION_WINDOW_S)
    if last_hour is None:
        sel = ts > at - EXHAUSTION_WINDOW_S
        t = float(total[sel].sum())
        last_hour = float(bad[sel].sum()) / t / slo.budget if t > 0 else None
    return Budget(slo.name, slo.title, slo.objective, slo.window, at, sli, spent,
                  tuple(burn), exhaustion_s(spent, last_hour, slo.window, slo.budget),
                  float(np.count_nonzero(total > 0)) * step_s / slo.window)


def exhaustion_s(spent: float | None, burn: float | None, window_s: float,
                 allowed: float | None = None) -> float | None:
    """Seconds until the budget is gone if ``burn`` continues; 0 when already gone.

    None when not burning: no burn rate, a zero one, or, given the SLO's ``allowed`` bad
    fraction, a burn whose bad fraction (``burn * allowed``) is float noise of zero.
    """
    if spent is None or burn is None or not math.isfinite(burn) or burn <= 0:
        return None
    if allowed is not None and burn * allowed <= NOISE_FRACTION:
        return None
    remaining = 1.0 - spent
    if remaining <= 0:
        return 0.0
    # Burn 1 spends the whole budget in one window: ``burn / window`` of it per second.
    return remaining * window_s / burn
