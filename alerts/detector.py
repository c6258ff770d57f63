"""An anomaly score per sample: the tuner, re-run every hour on the trailing week.

``detect(df) -> scores`` (columns ``timestamp``, ``value``) is causal: each row is
judged against a baseline fitted on earlier rows only, with the statistics the
tuner uses for thresholds (``alerts.stats.fit_baseline``: median/MAD, per hour of
day when that measurably explains the series). The robust z of a value is then
divided by the baseline's own normal extreme, so one threshold fits quiet and
bursty series alike, as the back-test's choice of k does per rule.

Measured on NAB with ``bench/nab_loo.py`` and not kept, because none gained on the
full set without losing when one category is held out: the same surprise on first
differences beside levels; winsorising flagged rows out of later baselines (the
band ratchets shut, and a genuine new level never becomes normal); an EWMA of the
residual z; a trailing-hour count of tail exceedances (binomial, or against its own
weekly extreme); a peaks-over-threshold (generalised Pareto) tail probability; an
hour-of-day tail; the median daily maximum as the normal extreme. A calibrated
probability of this one surprise is a monotone map of it and cannot change a
threshold swept over ranks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

if not __package__:
    # Loaded by file path (the NAB scorer's ``alerts/detector.py:detect``): make the
    # repository importable so the tuner's statistics are the ones scored.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.stats import fit_baseline

# The tuner's default baseline: a week holds every hour of every weekday.
WINDOW_S = 7 * 86400
# Re-fit hourly: the unit of the daily profile, and what a scheduled tuning job does.
REFIT_S = 3600
# Six hours of history before any judgement: a median needs a few dozen samples.
MIN_HISTORY_S = 6 * 3600
# A baseline's "normal extreme": the |z| that one sample in a thousand exceeds,
# so a handful of unlabelled outliers in the week do not mask the next one.
TAIL_QUANTILE = 0.999
# Never call less than 3 robust sigmas normal, however smooth the week was.
MIN_TAIL_Z = 3.0


def _epoch_seconds(timestamps: pd.Series) -> np.ndarray:
    return timestamps.to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9


def surprise(ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """|z| over the trailing baseline's normal extreme, per row (0 without history)."""
    n = len(values)
    out = np.zeros(n)
    if n == 0:
        return out
    # Rows are scored in blocks that share one fitted baseline: one block per hour.
    block_ends = np.searchsorted(ts, (ts // REFIT_S + 1) * REFIT_S, side="left")
    i = 0
    while i < n:
        j = max(int(block_ends[i]), i + 1)
        lo = int(np.searchsorted(ts, ts[i] - WINDOW_S, side="left"))
        if ts[i] - ts[0] >= MIN_HISTORY_S and i - lo >= 10:
            base = fit_baseline(ts[lo:i], values[lo:i])
            past = np.abs(base.z(ts[lo:i], values[lo:i]))
            past = past[np.isfinite(past)]
            tail = max(float(np.quantile(past, TAIL_QUANTILE)) if past.size else 0.0, MIN_TAIL_Z)
            z = np.abs(base.z(ts[i:j], values[i:j])) / tail
            out[i:j] = np.where(np.isfinite(z), z, 0.0)
        i = j
    return out


def _checked(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds and values of ``df``; a clear error for what a causal scorer cannot use."""
    missing = sorted({"timestamp", "value"} - set(df.columns))
    if missing:
        have = sorted(map(str, df.columns))
        raise ValueError(f"detect: missing column(s) {missing}; have {have}")
    try:
        ts = _epoch_seconds(pd.to_datetime(df["timestamp"]))
    except (ValueError, TypeError) as err:
        raise ValueError(f"detect: column 'timestamp' is not a time: {err}") from None
    try:
        values = df["value"].to_numpy(dtype=float)
    except (ValueError, TypeError) as err:
        raise ValueError(f"detect: column 'value' is not numeric: {err}") from None
    # Rows are judged in time order; repeated stamps (clock changes) are allowed.
    back = np.flatnonzero(np.diff(ts) < 0)
    if back.size:
        row = int(back[0]) + 1
        raise ValueError(f"detect: rows must be in time order; row {row} "
                         f"({df['timestamp'].iloc[row]}) is earlier than row {row - 1}")
    return ts, values


def detect(df: pd.DataFrame) -> np.ndarray:
    """Anomaly score in [0, 1) for each row of ``df`` (columns timestamp, value)."""
    s = surprise(*_checked(df))
    # Monotone squash into [0, 1): 0.5 means "as far out as the week's normal extreme".
    return s / (1.0 + s)
