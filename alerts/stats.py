"""Robust statistics of a baseline: centre, spread and the daily shape, if any.

Pure functions over numpy arrays; the tuner, the back-test and the detector all
describe "normal" with these, so a score on labelled series measures the tuner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# 1.4826 * MAD estimates a normal sigma; sqrt(pi/2) * mean |dev| does the same and
# stays positive when more than half the values are equal (a MAD of 0).
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533
# A series whose hour-of-day profile removes at least half of its robust variance
# is seasonal: a flat threshold would then be wrong for half of the day.
SEASONAL_MIN_EXPLAINED = 0.5
# An hour needs a few samples on a few days before its median can be trusted.
MIN_PER_HOUR = 3
# An hourly profile from a single day would fit that day's noise: require two.
MIN_SEASONAL_SPAN_S = 2 * 86400
# Relative sigma floor: 0.1 % of the level, so a flat series still has a finite z.
REL_SIGMA_FLOOR = 1e-3
ABS_SIGMA_FLOOR = 1e-9
HOURS = 24


@dataclass(frozen=True)
class Baseline:
    """What normal looks like: ``expected(ts) ± k · sigma``."""

    center: float
    sigma: float
    explained: float  # share of robust variance the hour-of-day profile explains
    hourly: tuple[float, ...] | None = None  # 24 medians when seasonal, else None
    n: int = 0

    @property
    def seasonal(self) -> bool:
        return self.hourly is not None

    def expected(self, ts: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts, dtype=float)
        if self.hourly is None:
            return np.full(ts.shape, self.center)
        return np.asarray(self.hourly)[hour_of_day(ts)]

    def z(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Signed robust z-score of each value against this baseline."""
        return (np.asarray(values, dtype=float) - self.expected(ts)) / self.sigma


def hour_of_day(ts: np.ndarray) -> np.ndarray:
    """UTC hour (0-23) of epoch seconds."""
    return ((np.asarray(ts, dtype=float) // 3600) % HOURS).astype(int)


def robust_sigma(deviations: np.ndarray, level: float = 0.0) -> float:
    """Sigma from deviations around a centre: MAD, else mean |dev|, else a floor."""
    d = np.abs(deviations[np.isfinite(deviations)])
    if d.size == 0:
        return max(REL_SIGMA_FLOOR * abs(level), ABS_SIGMA_FLOOR)
    sigma = MAD_TO_SIGMA * float(np.median(d))
    if sigma <= 0:
        sigma = MEAN_AD_TO_SIGMA * float(np.mean(d))
    return max(sigma, REL_SIGMA_FLOOR * abs(level), ABS_SIGMA_FLOOR)


def hourly_profile(ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Median per UTC hour; NaN for hours with fewer than MIN_PER_HOUR samples."""
    hours = hour_of_day(ts)
    out = np.full(HOURS, np.nan)
    order = np.argsort(hours, kind="stable")
    h_sorted, v_sorted = hours[order], values[order]
    bounds = np.searchsorted(h_sorted, np.arange(HOURS + 1))
    for h in range(HOURS):
        chunk = v_sorted[bounds[h]:bounds[h + 1]]
        if chunk.size >= MIN_PER_HOUR:
            out[h] = np.median(chunk)
    return out


def fit_baseline(ts: np.ndarray, values: np.ndarray,
                 min_explained: float = SEASONAL_MIN_EXPLAINED) -> Baseline:
    """Median/MAD of a baseline, per hour of day when that measurably explains it.

    Seasonality is measured, not declared: the hour-of-day profile is kept only when
    it shrinks the robust variance by ``min_explained`` or more.
    """
    ts = np.asarray(ts, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    ts, values = ts[ok], values[ok]
    if values.size == 0:
        return Baseline(center=float("nan"), sigma=float("nan"), explained=0.0, n=0)
    center = float(np.median(values))
    flat_sigma = robust_sigma(values - center, center)
    profile = hourly_profile(ts, values)
    if ts[-1] - ts[0] < MIN_SEASONAL_SPAN_S or np.isnan(profile).all():
        return Baseline(center, flat_sigma, 0.0, None, int(values.size))
    profile = np.where(np.isnan(profile), center, profile)
    residual = values - profile[hour_of_day(ts)]
    seasonal_sigma = robust_sigma(residual, center)
    explained = max(0.0, 1.0 - (seasonal_sigma / flat_sigma) ** 2)
    if explained >= min_explained:
        return Baseline(center, seasonal_sigma, explained, tuple(float(p) for p in profile),
                        int(values.size))
    return Baseline(center, flat_sigma, explained, None, int(values.size))
