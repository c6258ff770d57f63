"""Robust statistics of a baseline: centre, spread, the tail and the daily shape, if any.

Pure functions over numpy arrays; the tuner, the back-test and the detector all
describe "normal" with these, so a score on labelled series measures the tuner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm

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
# Weekday and weekend hours apart: 24 + 24 medians. Hour of week (168) would leave one
# day per hour in a week's baseline, fitting that day's noise; weekend hours get two.
WEEK_HOURS = 2 * HOURS
# Weekday/weekend hours replace the daily profile only when they remove a further
# fifth of the variance the daily profile leaves: 48 medians must earn their keep.
WEEKLY_MIN_EXPLAINED = 0.2
# Each kind of day needs two days of its own before its hours are trusted.
MIN_DAYS_PER_KIND = 2
# The tail is read at the |residual| one normal sample in a thousand exceeds: its
# normal value is Z_TAIL sigmas, so tail_sigma = q999 / Z_TAIL equals sigma for
# Gaussian noise and grows with a heavy tail (timings, rare-event rates).
TAIL_QUANTILE = 0.999
Z_TAIL = float(norm.ppf(0.5 + TAIL_QUANTILE / 2))
# A per-hour spread (each hour's own robust sigma) is kept when it shrinks the tail of
# the residuals, read in sigmas, by this share: counts and CPU of a region swing with
# traffic, so their noise at the day's peak is several times that of the night, and
# one sigma for all hours is too wide at night or too tight at noon. An hour's
# spread is never read as less than this share of the whole week's sigma, so an
# hour that happened to be calm does not become a hair trigger.
SPREAD_MIN_GAIN = 0.1
MIN_SPREAD = 0.5


@dataclass(frozen=True)
class Baseline:
    """What normal looks like: ``expected(ts) ± k · sigma``."""

    center: float
    sigma: float
    explained: float  # share of robust variance the seasonal profile explains
    hourly: tuple[float, ...] | None = None  # 24 (daily) or 48 (weekday, weekend) medians
    n: int = 0
    # Sigma read from the tail (TAIL_QUANTILE of |residual| / Z_TAIL), never below sigma.
    tail_sigma: float | None = None
    # Each UTC hour's spread as a multiple of sigma (24 values), when it measurably
    # differs by hour (SPREAD_MIN_GAIN); None: one sigma for every hour.
    spread: tuple[float, ...] | None = None
    # The UTC offset, in hours, of the clock whose Saturday and Sunday are the weekend
    # hours of a weekly profile: a region's traffic keeps its own local weekend.
    weekend_offset_h: int = 0

    @property
    def seasonal(self) -> bool:
        return self.hourly is not None

    @property
    def weekly(self) -> bool:
        return self.hourly is not None and len(self.hourly) == WEEK_HOURS

    @property
    def tail(self) -> float:
        return self.sigma if self.tail_sigma is None else self.tail_sigma

    def expected(self, ts: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts, dtype=float)
        if self.hourly is None:
            return np.full(ts.shape, self.center)
        index = profile_index(ts, len(self.hourly), self.weekend_offset_h)
        return np.asarray(self.hourly)[index]

    def spread_at(self, ts: np.ndarray) -> np.ndarray:
        """The multiple of sigma that is one sigma at each of ``ts`` (1 without spread)."""
        ts = np.asarray(ts, dtype=float)
        if self.spread is None:
            return np.ones(ts.shape)
        return np.asarray(self.spread)[hour_of_day(ts)]

    def z(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Signed robust z-score of each value against this baseline."""
        return ((np.asarray(values, dtype=float) - self.expected(ts))
                / (self.sigma * self.spread_at(ts)))


def hour_of_day(ts: np.ndarray) -> np.ndarray:
    """UTC hour (0-23) of epoch seconds."""
    return ((np.asarray(ts, dtype=float) // 3600) % HOURS).astype(int)


def is_weekend(ts: np.ndarray, offset_h: int = 0) -> np.ndarray:
    """Saturday or Sunday of epoch seconds on the clock ``offset_h`` hours from UTC;
    1970-01-01 was a Thursday."""
    return ((np.asarray(ts, dtype=float) + offset_h * 3600.0) // 86400 + 3) % 7 >= 5


def hour_of_week_kind(ts: np.ndarray, offset_h: int = 0) -> np.ndarray:
    """0-23 for weekday hours, 24-47 for weekend hours: UTC hours, the kind of day on
    the clock ``offset_h`` hours from UTC."""
    return hour_of_day(ts) + HOURS * is_weekend(ts, offset_h).astype(int)


def profile_hours(offset_h: int = 0, weekend: bool = False) -> np.ndarray:
    """Epoch seconds of UTC hours 0-23, each on a weekday, or each on a weekend day of
    the clock ``offset_h`` hours from UTC (-12 to +14): where a profile's hours are read."""
    hours = np.arange(HOURS) * 3600.0
    if not weekend:
        return hours + 5 * 86400.0  # 1970-01-06, a Tuesday: a weekday on every clock
    saturday = hours + 2 * 86400.0  # 1970-01-03
    return np.where(is_weekend(saturday, offset_h), saturday, saturday + 86400.0)


def profile_index(ts: np.ndarray, size: int, offset_h: int = 0) -> np.ndarray:
    """Index into a profile of ``size`` values: 24 by hour of day, 48 also by kind of day
    (on the clock ``offset_h`` hours from UTC)."""
    if size == HOURS:
        return hour_of_day(ts)
    if size == WEEK_HOURS:
        return hour_of_week_kind(ts, offset_h)
    raise ValueError(f"a profile has {HOURS} or {WEEK_HOURS} values, not {size}")


def robust_sigma(deviations: np.ndarray, level: float = 0.0) -> float:
    """Sigma from deviations around a centre: MAD, else mean |dev|, else a floor."""
    d = np.abs(deviations[np.isfinite(deviations)])
    if d.size == 0:
        return max(REL_SIGMA_FLOOR * abs(level), ABS_SIGMA_FLOOR)
    sigma = MAD_TO_SIGMA * float(np.median(d))
    if sigma <= 0:
        sigma = MEAN_AD_TO_SIGMA * float(np.mean(d))
    return max(sigma, REL_SIGMA_FLOOR * abs(level), ABS_SIGMA_FLOOR)


def with_counting_floor(b: Baseline) -> Baseline:
    """``b`` with its sigmas at least the counting noise of its level, sqrt(level).

    A count of things held (cache entries) near its size limit moves by a few units
    while the limit holds it: its MAD is a unit or two, so the relative floor (0.1 %)
    rules and a dip of ten entries reads as seven sigmas. sqrt(N) is the spread of a
    count of N independent items, the finest a threshold on a count can claim.
    """
    if not np.isfinite(b.center):
        return b
    floor = float(np.sqrt(abs(b.center)))
    if b.sigma >= floor and b.tail >= floor:
        return b
    return replace(b, sigma=max(b.sigma, floor),
                   tail_sigma=None if b.tail_sigma is None else max(b.tail_sigma, floor))


def tail_sigma(deviations: np.ndarray, sigma: float) -> float:
    """The sigma a normal tail would need to reach this tail: q999(|dev|) / Z_TAIL."""
    d = np.abs(deviations[np.isfinite(deviations)])
    if d.size == 0:
        return sigma
    return max(sigma, float(np.quantile(d, TAIL_QUANTILE)) / Z_TAIL)


def hourly_profile(ts: np.ndarray, values: np.ndarray, size: int = HOURS,
                   offset_h: int = 0) -> np.ndarray:
    """Median per profile hour (see ``profile_index``); NaN below MIN_PER_HOUR samples."""
    hours = profile_index(ts, size, offset_h)
    out = np.full(size, np.nan)
    order = np.argsort(hours, kind="stable")
    h_sorted, v_sorted = hours[order], values[order]
    bounds = np.searchsorted(h_sorted, np.arange(size + 1))
    for h in range(size):
        chunk = v_sorted[bounds[h]:bounds[h + 1]]
        if chunk.size >= MIN_PER_HOUR:
            out[h] = np.median(chunk)
    return out


def _days_of_each_kind(ts: np.ndarray, offset_h: int = 0) -> tuple[int, int]:
    days = np.unique((ts + offset_h * 3600.0) // 86400)
    weekend = int(is_weekend(days * 86400).sum())
    return int(days.size) - weekend, weekend


def hourly_spread(ts: np.ndarray, residual: np.ndarray, sigma: float) -> np.ndarray | None:
    """Each UTC hour's robust sigma of ``residual`` over ``sigma``, at least MIN_SPREAD;
    None when an hour has too few samples to say."""
    hours = hour_of_day(ts)
    out = np.ones(HOURS)
    for h in range(HOURS):
        d = residual[hours == h]
        d = d[np.isfinite(d)]
        if d.size < MIN_PER_HOUR:
            return None
        out[h] = robust_sigma(d) / sigma
    return np.maximum(out, MIN_SPREAD)


def _with_spread(ts: np.ndarray, b: Baseline, residual: np.ndarray, normal: np.ndarray
                 ) -> Baseline:
    """``b`` with a per-hour spread when that shrinks its tail, in sigmas, by
    SPREAD_MIN_GAIN: measured, as the profile is."""
    spread = hourly_spread(ts, residual, b.sigma)
    if spread is None:
        return b
    scaled = residual / spread[hour_of_day(ts)]
    sigma = robust_sigma(scaled)
    tail = tail_sigma(scaled[normal], sigma)
    if tail / sigma > (1.0 - SPREAD_MIN_GAIN) * (b.tail / b.sigma):
        return b
    return replace(b, sigma=sigma, tail_sigma=tail, spread=tuple(float(x) for x in spread))


def fit_baseline(ts: np.ndarray, values: np.ndarray,
                 min_explained: float = SEASONAL_MIN_EXPLAINED,
                 normal: np.ndarray | None = None,
                 weekend_offsets: Sequence[int] = (0,), spread: bool = False) -> Baseline:
    """Median/MAD of a baseline, per hour of day (and kind of day) when that measurably
    explains it, with a per-hour spread when that measurably fits its noise better.

    Seasonality is measured, not declared: the hour-of-day profile is kept only when
    it shrinks the robust variance by ``min_explained`` or more, and weekday/weekend
    hours replace it only when they shrink what is left by WEEKLY_MIN_EXPLAINED more.
    The weekend is tried on each clock of ``weekend_offsets`` (hours from UTC: the
    regions' own) and read on the one that leaves the least. ``normal`` marks the rows
    the tail is read from (default: all), so recorded faults need not count as the
    tail of normal. ``spread`` tries a per-hour spread (``_with_spread``): thresholds
    are per hour anyway. The NAB detector does not ask for it: on the shared NAB files
    it scored 66.76 standard (cross-val 64.36) with it, 71.22 (71.22) without; those
    series are minutes to weeks of one machine, with no traffic cycle to follow.
    """
    ts = np.asarray(ts, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    normal = ok if normal is None else np.asarray(normal, dtype=bool)[ok]
    ts, values = ts[ok], values[ok]
    if values.size == 0:
        return Baseline(center=float("nan"), sigma=float("nan"), explained=0.0, n=0)
    center = float(np.median(values))
    flat_sigma = robust_sigma(values - center, center)
    flat = _baseline(center, flat_sigma, 0.0, None, values, normal)
    if ts[-1] - ts[0] < MIN_SEASONAL_SPAN_S:
        return flat
    profile = hourly_profile(ts, values)
    if np.isnan(profile).all():
        return flat
    profile = np.where(np.isnan(profile), center, profile)
    residual = values - profile[hour_of_day(ts)]
    seasonal_sigma = robust_sigma(residual, center)
    explained = max(0.0, 1.0 - (seasonal_sigma / flat_sigma) ** 2)
    weekly = _weekly(ts, values, profile, center, weekend_offsets)
    if weekly is not None:
        w_sigma, w_profile, w_residual, offset = weekly
        w_explained = max(0.0, 1.0 - (w_sigma / flat_sigma) ** 2)
        if (w_explained >= min_explained
                and 1.0 - (w_sigma / seasonal_sigma) ** 2 >= WEEKLY_MIN_EXPLAINED):
            b = _baseline(center, w_sigma, w_explained, w_profile, values, normal, w_residual)
            b = replace(b, weekend_offset_h=offset)
            return _with_spread(ts, b, w_residual, normal) if spread else b
    if explained >= min_explained:
        b = _baseline(center, seasonal_sigma, explained, profile, values, normal, residual)
        return _with_spread(ts, b, residual, normal) if spread else b
    b = replace(flat, explained=explained)
    return _with_spread(ts, b, values - center, normal) if spread else b


def _weekly(ts: np.ndarray, values: np.ndarray, daily: np.ndarray, center: float,
            offsets: Sequence[int]) -> tuple[float, np.ndarray, np.ndarray, int] | None:
    """The robust sigma of the residual, the weekday/weekend profile, the residual and
    the clock (of ``offsets``) that leaves the least; None when no clock has
    MIN_DAYS_PER_KIND days of each kind."""
    best = None
    for offset in dict.fromkeys(offsets):
        if min(_days_of_each_kind(ts, offset)) < MIN_DAYS_PER_KIND:
            continue
        weekly = hourly_profile(ts, values, WEEK_HOURS, offset)
        # An hour missing on one kind of day takes the daily profile's value.
        weekly = np.where(np.isnan(weekly), np.tile(daily, 2), weekly)
        residual = values - weekly[hour_of_week_kind(ts, offset)]
        sigma = robust_sigma(residual, center)
        if best is None or sigma < best[0]:
            best = (sigma, weekly, residual, offset)
    return best


def _baseline(center: float, sigma: float, explained: float, profile: np.ndarray | None,
              values: np.ndarray, normal: np.ndarray,
              residual: np.ndarray | None = None) -> Baseline:
    dev = (values - center) if residual is None else residual
    return Baseline(center, sigma, explained,
                    None if profile is None else tuple(float(p) for p in profile),
                    int(values.size), tail_sigma(dev[normal], sigma))
