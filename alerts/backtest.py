"""Replay history through a rule: when would it have fired, and was anything wrong?

Pure numpy over a regular grid. ``firing`` follows the evaluator's semantics (a
condition true on consecutive evaluations for ``for:`` fires), so what the back-test
promises is what the evaluator does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from alerts.rules import Calendar, Rule
from monitoring.groundtruth import FaultRecord

# Each recorded fault's severity (``params["severity"]``); a fault recorded without one
# was injected at the kind's full strength.
SEVERITIES: tuple[str, ...] = ("loud", "subtle")
# A fault's symptoms outlast it (caches refill, queues drain): an alert this soon
# after the fault ended is still about it, not a false alarm.
AFTERGLOW_S = 15 * 60


@dataclass(frozen=True)
class Episode:
    start: float  # first firing evaluation
    end: float  # last firing evaluation


@dataclass(frozen=True)
class BacktestResult:
    rule: str
    k: float | None
    fires: int
    false_alarms: int
    false_alarms_per_day: float
    faults: int  # faults of the kinds this rule should catch
    detected: int
    precision: float | None  # None when the rule never fired
    recall: float | None  # None when no fault of its kinds was recorded
    mean_ttd_s: float | None  # mean time from fault start to firing, detected faults
    days: float
    loud_faults: int = 0  # of ``faults``, those injected at full strength
    loud_detected: int = 0
    # Share of the normal grid points (``normal`` given to ``backtest``) on which the
    # condition holds, firing or not; None when not asked for.
    normal_breach: float | None = None


def span_days(ts: np.ndarray) -> float:
    """Days a regular grid covers, each point standing for one step: a week of minutes
    is 7 days, so one false alarm in it is exactly the budget of one a week."""
    if len(ts) < 2:
        return 0.0
    return len(ts) * float(ts[1] - ts[0]) / 86400


def condition(rule: Rule, ts: np.ndarray, values: Mapping[str, np.ndarray],
              calendar: Calendar | None = None) -> np.ndarray:
    """Per grid point: is any of the rule's bounds breached?"""
    out = np.zeros(len(ts), dtype=bool)
    read: dict[str, np.ndarray] = {}  # a metric with bounds on both sides is averaged once
    for b in rule.bounds:
        v = values.get(b.metric)
        if v is not None:
            if rule.over_s:
                if b.metric not in read:
                    read[b.metric] = trailing_mean(ts, v, rule.over_s)
                v = read[b.metric]
            out |= b.breached(ts, v, calendar)
    return out


def trailing_mean(ts: np.ndarray, values: np.ndarray, over_s: float) -> np.ndarray:
    """Per point, the mean of the finite values in (t - over_s, t]; NaN with none."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    total = np.concatenate(([0.0], np.cumsum(np.where(ok, v, 0.0))))
    count = np.concatenate(([0], np.cumsum(ok)))
    hi = np.arange(1, len(v) + 1)
    lo = np.searchsorted(ts, np.asarray(ts, dtype=float) - over_s, side="right")
    n = count[hi] - count[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (total[hi] - total[lo]) / np.maximum(n, 1), np.nan)


def firing(cond: np.ndarray, ts: np.ndarray, for_s: float, keep_s: float = 0.0
           ) -> np.ndarray:
    """Firing per grid point: the condition has held since at least ``for_s`` ago, or
    the alert fired and its condition has been clear for less than ``keep_s`` since
    (Prometheus's ``keep_firing_for``: resolved at the first evaluation ``keep_s``
    after the first clear one)."""
    if len(cond) == 0:
        return cond.copy()
    fire = cond & (ts - _run_start(cond, ts) >= for_s)
    if keep_s <= 0 or not fire.any():
        return fire
    # The alert ends where a clear run reaches keep_s; it fires from its first point.
    ends = ~cond & (ts - _run_start(~cond, ts) >= keep_s)
    idx = np.arange(len(ts))
    last_fire = np.maximum.accumulate(np.where(fire, idx, -1))
    last_end = np.maximum.accumulate(np.where(ends, idx, -1))
    return (last_fire >= 0) & (last_fire > last_end)


def _run_start(mask: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Per point, the time the current run of True values in ``mask`` began."""
    starts = mask & ~np.concatenate(([False], mask[:-1]))
    return np.maximum.accumulate(np.where(starts, ts, -np.inf))


def episodes(fire: np.ndarray, ts: np.ndarray) -> list[Episode]:
    if not fire.any():
        return []
    edges = np.diff(np.concatenate(([0], fire.astype(np.int8), [0])))
    begins = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [Episode(float(ts[b]), float(ts[e])) for b, e in zip(begins, ends, strict=True)]


def about(start: float, end: float, fault: FaultRecord) -> bool:
    """An alert firing over ``[start, end]`` is about ``fault`` when it overlaps the fault
    or its afterglow. One rule for the back-test and the weekly report."""
    return start <= fault.end + AFTERGLOW_S and end >= fault.start


def time_to_detect(fault: FaultRecord, spans: Sequence[tuple[float, float]]) -> float | None:
    """Fault start -> the first firing about it (0 when one was already firing); None
    when no firing is about it."""
    hits = [start for start, end in spans if about(start, end, fault)]
    return max(0.0, min(hits) - fault.start) if hits else None


def _overlaps(ep: Episode, fault: FaultRecord) -> bool:
    return about(ep.start, ep.end, fault)


def score(rule: Rule, kinds: Sequence[str], eps: Sequence[Episode],
          faults: Sequence[FaultRecord], days: float) -> BacktestResult:
    """Precision over all recorded faults; recall and time to detect over its own kinds.

    Any recorded fault explains an alert (a region down does raise latency), but a
    rule is only expected to catch the kinds it was written for.
    """
    true_eps = [e for e in eps if any(_overlaps(e, f) for f in faults)]
    false = len(eps) - len(true_eps)
    mine = [f for f in faults if f.kind in kinds]
    spans = [(e.start, e.end) for e in eps]
    found = [(f, t) for f in mine if (t := time_to_detect(f, spans)) is not None]
    ttds = [t for _, t in found]
    return BacktestResult(
        rule=rule.id, k=rule.k, fires=len(eps), false_alarms=false,
        false_alarms_per_day=false / days if days > 0 else float("nan"),
        faults=len(mine), detected=len(ttds),
        precision=len(true_eps) / len(eps) if eps else None,
        recall=len(ttds) / len(mine) if mine else None,
        mean_ttd_s=float(np.mean(ttds)) if ttds else None,
        days=days,
        loud_faults=sum(severity(f) == "loud" for f in mine),
        loud_detected=sum(severity(f) == "loud" for f, _ in found),
    )


def backtest(rule: Rule, kinds: Sequence[str], ts: np.ndarray,
             values: Mapping[str, np.ndarray], faults: Sequence[FaultRecord],
             normal: np.ndarray | None = None, calendar: Calendar | None = None
             ) -> BacktestResult:
    """Replay one rule over a grid of samples against the recorded faults; with
    ``normal`` (grid points away from any fault), also how often its condition holds
    there. ``calendar`` is ``calendar_of(ts)``, for many replays over one grid."""
    cond = condition(rule, ts, values, calendar)
    fire = firing(cond, ts, rule.for_s, rule.keep_firing_s)
    days = span_days(ts)
    result = score(rule, kinds, episodes(fire, ts), faults, days)
    if normal is None or not normal.any():
        return result
    return replace(result, normal_breach=normal_breach(cond, ts, faults, normal))


def normal_breach(cond: np.ndarray, ts: np.ndarray, faults: Sequence[FaultRecord],
                  normal: np.ndarray) -> float:
    """Share of the ``normal`` grid points on which ``cond`` holds, leaving out its runs
    that began in or ran through a fault: a cache refilling for hours after a flush is
    the flush's, not normal noise."""
    starts = cond & ~np.concatenate(([False], cond[:-1]))
    run_id = np.cumsum(starts)  # the run each True point belongs to
    about_fault = np.zeros(int(run_id[-1]) + 1 if len(run_id) else 1, dtype=bool)
    for f in faults:
        w = cond & (ts >= f.start) & (ts <= f.end + AFTERGLOW_S)
        about_fault[run_id[w]] = True
    noise = cond & ~about_fault[run_id] & normal
    return float(noise.sum() / normal.sum())


def severity(fault: FaultRecord) -> str:
    """``loud`` or ``subtle``, as the fault was injected (loud when not recorded)."""
    return str(fault.params.get("severity", "loud"))


@dataclass(frozen=True)
class Detection:
    """The faults of a rule's kinds at one severity, and how many it caught how fast."""

    faults: int
    caught: int
    mean_ttd_s: float | None  # over the caught ones

    @property
    def recall(self) -> float | None:
        return self.caught / self.faults if self.faults else None


@dataclass(frozen=True)
class WeekScore:
    """One rule's thresholds replayed over one week: what an on-call would have seen.

    Scored on the week the thresholds were fitted to it is in sample; on a week the
    fit never saw (another seed, another fault schedule), out of sample.
    """

    rule: str
    fires: int
    false_alarms: int
    false_alarms_per_day: float
    loud: Detection
    subtle: Detection
    days: float

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for a rules file: ``None`` where a figure does not exist."""
        def det(d: Detection) -> dict[str, Any]:
            return {"faults": d.faults, "caught": d.caught,
                    "mean_ttd_s": None if d.mean_ttd_s is None else round(d.mean_ttd_s, 1)}
        return {"days": round(self.days, 3), "fires": self.fires,
                "false_alarms": self.false_alarms,
                "false_alarms_per_day": round(self.false_alarms_per_day, 4),
                "loud": det(self.loud), "subtle": det(self.subtle)}


def week_score(rule: Rule, kinds: Sequence[str], ts: np.ndarray,
               values: Mapping[str, np.ndarray], faults: Sequence[FaultRecord]) -> WeekScore:
    """Replay ``rule`` over a week; recall and time to detect split by fault severity."""
    fire = firing(condition(rule, ts, values), ts, rule.for_s, rule.keep_firing_s)
    days = span_days(ts)
    eps = episodes(fire, ts)
    overall = score(rule, kinds, eps, faults, days)
    spans = [(e.start, e.end) for e in eps]
    by: dict[str, Detection] = {}
    for sev in SEVERITIES:
        mine = [f for f in faults if f.kind in kinds and severity(f) == sev]
        ttds = [t for f in mine if (t := time_to_detect(f, spans)) is not None]
        by[sev] = Detection(len(mine), len(ttds), float(np.mean(ttds)) if ttds else None)
    return WeekScore(rule.id, overall.fires, overall.false_alarms,
                     overall.false_alarms_per_day, by["loud"], by["subtle"], days)
