"""The report as plain data: every figure computed from measured series, nothing typed.

Pure functions only: series, faults and logs in, a ``Report`` out. Formatting is the
renderer's job (``renderers.report.fmt``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from alerts.backtest import about, time_to_detect
from alerts.burn import POLICIES, events, joined_weights, spent_share
from alerts.rules import RULE_SPECS
from alerts.slo import SLO
from alerts.slo_rules import rule_id
from monitoring.catalog import CATALOG, GROUPS, Metric
from monitoring.groundtruth import FaultRecord

Status = Literal["met", "missed", "info", "nodata"]
ChangeKind = Literal["pp", "rel", "abs"]

# What each injected fault is expected to move; "{region}" is the fault's target region.
FAULT_METRICS: Mapping[str, tuple[str, ...]] = {
    "l1_flush": ("l1_items", "l1_hit_rate"),
    "l2_down": ("l2_hit_rate", "cache_hit_rate"),
    "index_dropped": ("db_query_p95", "db_slow_queries"),
    "builder_errors": ("builder_error_rate", "error_rate", "availability"),
    "replica_lag": ("replication_lag_{region}",),
    "region_down": ("regions_up", "availability"),
    "network_delay": ("latency_p95_{region}", "latency_p95"),
    "traffic_surge": ("request_rate",),
    "traffic_drop": ("request_rate",),
    "traffic_sag": ("request_rate",),
    "cpu_hog": ("cpu_usage",),
    "memory_leak": ("memory_rss",),
    "db_pool_exhaustion": ("db_pool_utilisation",),
}
BASELINE_S = 2 * 3600  # the incident baseline: this long before the fault, outside faults
SETTLE_S = 60.0  # a sample at t covers (t - 60 s, t]: the minute after a fault still shows it
ROLLING = 15  # samples in the window whose mean measures how far a metric moved
MAX_CHARTS = 6
MIN_CHART_SCORE = 4.0  # robust z-score below which a metric is not called "moved"


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    def mask(self, ts: np.ndarray) -> np.ndarray:
        # A sample stamped t covers the minute before t: the week is (start, end].
        return (ts > self.start) & (ts <= self.end)


@dataclass(frozen=True)
class SeriesData:
    ts: np.ndarray
    values: np.ndarray

    @classmethod
    def empty(cls) -> SeriesData:
        return cls(np.empty(0), np.empty(0))

    def within(self, window: Window) -> SeriesData:
        keep = window.mask(self.ts) & np.isfinite(self.values)
        return SeriesData(self.ts[keep], self.values[keep])


@dataclass(frozen=True)
class Summary:
    """One metric over one window. NaN fields mean no samples."""

    samples: int
    mean: float
    p95: float
    worst: float  # max for metrics where down is good, min otherwise
    worst_at: float | None
    last: float
    in_target: float | None  # share of samples meeting the target


@dataclass(frozen=True)
class Change:
    value: float
    kind: ChangeKind
    better: bool | None  # None when neither direction is better


@dataclass(frozen=True)
class KeyRow:
    metric: Metric
    current: Summary
    previous: Summary
    change: Change | None  # None: no previous week to compare with
    status: Status


@dataclass(frozen=True)
class Effect:
    metric_id: str
    baseline: float
    during: float
    worst: float
    change: Change | None


@dataclass(frozen=True)
class AlertEpisode:
    rule: str
    metric: str | None
    pending_at: float | None
    fired_at: float | None
    resolved_at: float | None
    value: float | None
    fault: FaultRecord | None  # the fault this alert caught, if any

    @property
    def duration_s(self) -> float | None:
        if self.fired_at is None or self.resolved_at is None:
            return None
        return self.resolved_at - self.fired_at

    @property
    def ttd_s(self) -> float | None:
        """Fault start -> firing; 0 when the alert was already firing as the fault began."""
        if self.fault is None or self.fired_at is None:
            return None
        return max(0.0, self.fired_at - self.fault.start)


@dataclass(frozen=True)
class Incident:
    fault: FaultRecord
    effects: tuple[Effect, ...]
    detected_by: AlertEpisode | None

    @property
    def severity(self) -> float:
        """How far the fault moved its worst metric, relative to baseline."""
        return max((_relative(e.worst, e.baseline) for e in self.effects), default=0.0)


@dataclass(frozen=True)
class ThresholdChange:
    at: float
    rule: str
    metric: str
    old: str
    new: str
    applied: bool
    reason: str = ""  # why the tuner chose the new thresholds
    baseline_start: float | None = None  # the history tuned on: (baseline_start, at]


@dataclass(frozen=True)
class Highlights:
    """What the executive summary says, as data."""

    objectives: int
    met: tuple[str, ...]
    missed: tuple[str, ...]
    worst_incident: Incident | None
    biggest_change: KeyRow | None
    alerts_fired: int | None


@dataclass(frozen=True)
class IncidentBurn:
    fault: FaultRecord
    spent: float  # share of the SLO window's budget burned during the fault
    of_week: float | None  # share of the week's spend; None when the week spent nothing


@dataclass(frozen=True)
class BudgetWeek:
    """One SLO's error budget over the week: how much of its window's budget went."""

    slo: str
    title: str
    objective: float  # percent
    window_s: float
    sli: float | None  # percent good over the week
    spent: float | None  # share of the SLO window's budget spent this week
    incidents: tuple[IncidentBurn, ...]  # faults that burned any of it, largest first


@dataclass(frozen=True)
class RuleTimes:
    """Detection and recovery of one rule over the week, from its stored history."""

    rule: str
    faults: int  # faults this week the rule is meant to catch
    detected: int  # of those, how many it fired for
    mttd_s: float | None  # mean of fault start -> first firing
    fired: int  # firings this week
    resolved: int  # of those, how many resolved
    mttr_s: float | None  # mean of firing -> resolved


@dataclass(frozen=True)
class Report:
    week: str
    window: Window
    previous: Window
    groups: tuple[tuple[str, tuple[KeyRow, ...]], ...]
    incidents: tuple[Incident, ...]
    alerts: tuple[AlertEpisode, ...] | None  # None: no alert history recorded
    thresholds: tuple[ThresholdChange, ...] | None  # None: no tuning log recorded
    charts: tuple[str, ...]  # metric ids, most moved first
    highlights: Highlights
    samples: int
    expected_samples: int
    has_previous: bool
    rows: Mapping[str, KeyRow] = field(default_factory=dict)
    budgets: tuple[BudgetWeek, ...] = ()
    rule_times: tuple[RuleTimes, ...] | None = None  # None: no alert history recorded

    @property
    def false_alarms(self) -> tuple[AlertEpisode, ...] | None:
        """The week's firings no recorded fault explains; None: no alert history."""
        return None if self.alerts is None else tuple(a for a in self.alerts if a.fault is None)


@dataclass(frozen=True)
class ReportInputs:
    week: str
    window: Window
    previous: Window
    current: Mapping[str, SeriesData]
    prior: Mapping[str, SeriesData]
    faults: tuple[FaultRecord, ...]
    alert_history: tuple[Mapping, ...] | None
    tuning_log: tuple[Mapping, ...] | None
    step_s: float = 60.0
    slos: tuple[SLO, ...] = ()
    catches: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # rule -> fault kinds


# --- statistics ------------------------------------------------------------------

def week_figures(metric: Metric, series: SeriesData) -> Summary:
    v = series.values
    if len(v) == 0:
        return Summary(0, math.nan, math.nan, math.nan, None, math.nan, None)
    i = int(np.argmax(v)) if metric.good != "up" else int(np.argmin(v))
    in_target = None
    if metric.target is not None:
        in_target = float(np.mean([metric.target.met(x) for x in v.tolist()]))
    return Summary(len(v), float(np.mean(v)), float(np.percentile(v, 95)), float(v[i]),
                   float(series.ts[i]), float(v[-1]), in_target)


def change_between(metric: Metric, current: float, previous: float) -> Change | None:
    if not (math.isfinite(current) and math.isfinite(previous)):
        return None
    if metric.unit == "%":
        value, kind = current - previous, "pp"
    elif previous != 0:
        value, kind = (current - previous) / abs(previous) * 100, "rel"
    else:
        value, kind = current - previous, "abs"
    better = None if metric.good == "both" or value == 0 else (value > 0) == (metric.good == "up")
    return Change(value, kind, better)


def status_of(metric: Metric, summary: Summary) -> Status:
    if summary.samples == 0:
        return "nodata"
    if metric.target is None:
        return "info"
    return "met" if metric.target.met(summary.mean) else "missed"


def _relative(value: float, baseline: float) -> float:
    if not (math.isfinite(value) and math.isfinite(baseline)):
        return 0.0
    return abs(value - baseline) / max(abs(baseline), 1e-9)


def movement(series: SeriesData) -> float:
    """Robust z-score of the series' most extreme 15-sample mean against its median."""
    v = series.values
    if len(v) < ROLLING:
        return 0.0
    rolled = np.convolve(v, np.ones(ROLLING) / ROLLING, mode="valid")
    med = float(np.median(v))
    mad = 1.4826 * float(np.median(np.abs(v - med)))
    # A flat series that steps (regions up 3 -> 2) has no spread: scale by 1% of it.
    scale = max(mad, abs(med) * 0.01, 1e-9)
    return float(np.max(np.abs(rolled - med)) / scale)


# --- incidents and alerts ----------------------------------------------------------

def fault_metrics(fault: FaultRecord) -> tuple[str, ...]:
    region = fault.target.split("/")[0]
    ids = (m.format(region=region) for m in FAULT_METRICS.get(fault.kind, ()))
    return tuple(m for m in ids if m in CATALOG)


def _outside(ts: np.ndarray, faults: Sequence[FaultRecord]) -> np.ndarray:
    keep = np.ones(len(ts), dtype=bool)
    for f in faults:
        keep &= ~((ts > f.start) & (ts <= f.end + SETTLE_S))
    return keep


def effect_of(fault: FaultRecord, metric: Metric, series: SeriesData,
              faults: Sequence[FaultRecord]) -> Effect | None:
    ts, v = series.ts, series.values
    during_mask = (ts > fault.start) & (ts <= fault.end + SETTLE_S)
    if not during_mask.any():
        return None
    clean = _outside(ts, faults)
    before = clean & (ts > fault.start - BASELINE_S) & (ts <= fault.start)
    base_values = v[before] if before.any() else v[clean]
    if len(base_values) == 0:
        return None
    baseline = float(np.median(base_values))
    during = v[during_mask]
    worst = float(during.max() if metric.good != "up" else during.min())
    mean = float(during.mean())
    return Effect(metric.id, baseline, mean, worst, change_between(metric, worst, baseline))


def alert_episodes(history: Sequence[Mapping], window: Window,
                   faults: Sequence[FaultRecord]) -> tuple[AlertEpisode, ...]:
    """State changes (rule, at, old, new, value, metric) folded into one episode per firing."""
    open_: dict[str, dict] = {}
    episodes: list[AlertEpisode] = []
    for row in sorted(history, key=lambda r: (r["at"], r["rule"])):
        rule, new = row["rule"], row["new"]
        ep = open_.setdefault(rule, {"pending_at": None, "fired_at": None, "value": None,
                                     "metric": None})
        if new == "pending":
            ep.update(pending_at=row["at"], fired_at=None)
        elif new == "firing":
            ep.update(fired_at=row["at"], value=row.get("value"), metric=row.get("metric"))
        elif new in ("resolved", "inactive") and ep["fired_at"] is not None:
            episodes.append(_episode(rule, ep, row["at"], faults))
            open_.pop(rule)
        elif new == "inactive":
            open_.pop(rule, None)
    for rule, ep in open_.items():
        if ep["fired_at"] is not None:
            episodes.append(_episode(rule, ep, None, faults))
    return tuple(e for e in episodes
                 if e.fired_at is not None and window.start < e.fired_at <= window.end)


def _episode(rule: str, ep: dict, resolved_at: float | None,
             faults: Sequence[FaultRecord]) -> AlertEpisode:
    fired, metric = ep["fired_at"], ep["metric"]
    until = math.inf if resolved_at is None else resolved_at
    near = [f for f in faults if about(fired, until, f)]
    # Prefer the fault known to move the alert's metric; else any fault at that time.
    caught = next((f for f in near if metric in fault_metrics(f)), near[0] if near else None)
    return AlertEpisode(rule, metric, ep["pending_at"], fired, resolved_at, ep["value"], caught)


def threshold_changes(log: Sequence[Mapping], window: Window) -> tuple[ThresholdChange, ...]:
    """The tuning log's changes made in the week or tuned on a baseline that reaches
    into it (the tuning that followed the week's data)."""
    out = []
    for r in log:
        at = float(r["at"])
        since = r.get("baseline_start")
        since = at if since is None else float(since)
        if not (window.start < at <= window.end or (since < window.end and at > window.start)):
            continue
        out.append(ThresholdChange(at, str(r["rule"]), str(r.get("metric", "")),
                                   str(r.get("old", "")), str(r.get("new", "")),
                                   bool(r.get("applied")), str(r.get("reason", "")),
                                   None if r.get("baseline_start") is None else since))
    return tuple(c for c in sorted(out, key=lambda c: (c.at, c.rule)) if c.old != c.new)


# --- error budgets and detection times -----------------------------------------------

def slo_events(slo: SLO, series: Mapping[str, SeriesData], week: Window
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(timestamps, bad events, all events) per stored minute of the week."""
    s = series.get(slo.indicator.metric, SeriesData.empty()).within(week)
    weights = None
    if slo.indicator.weight is not None:
        w = series.get(slo.indicator.weight, SeriesData.empty()).within(week)
        weights = joined_weights(s.ts, w.ts, w.values)
    bad, total = events(slo, s.values, weights)
    return s.ts, bad, total


def budget_week(slo: SLO, series: Mapping[str, SeriesData], week: Window,
                faults: Sequence[FaultRecord], step_s: float = 60.0) -> BudgetWeek:
    """Budget spent this week, and by each fault, as shares of the SLO window's budget.

    The window's events are estimated from the week's mean per minute (as the
    dashboards do), so a week's spend and a fault's add up on one scale.
    """
    ts, bad, total = slo_events(slo, series, week)
    spent = spent_share(slo, bad, total, total, step_s)
    sli = 100.0 * (1 - bad.sum() / total.sum()) if total.sum() > 0 else None
    burns = []
    for f in faults:
        during = (ts > f.start) & (ts <= f.end + SETTLE_S)
        share = spent_share(slo, bad[during], total[during], total, step_s)
        if share:
            burns.append(IncidentBurn(f, share, share / spent if spent else None))
    return BudgetWeek(slo.name, slo.title, slo.objective, slo.window, sli, spent,
                      tuple(sorted(burns, key=lambda b: -b.spent)))


def rule_times(history: Sequence[Mapping], week: Window, faults: Sequence[FaultRecord],
               catches: Mapping[str, tuple[str, ...]]) -> tuple[RuleTimes, ...]:
    """MTTD and MTTR per rule: every rule meant for a fault this week or that fired.

    MTTD is fault start -> the rule's first firing about it, as the back-test counts it
    (``alerts.backtest.time_to_detect``); MTTR is firing -> resolved, over the week's
    firings.
    """
    episodes = alert_episodes(history, week, faults)
    spans: dict[str, list[tuple[float, float]]] = {}
    for e in alert_episodes(history, Window(-math.inf, math.inf), faults):
        end = math.inf if e.resolved_at is None else e.resolved_at
        spans.setdefault(e.rule, []).append((e.fired_at, end))
    rules = sorted(set(catches) | {e.rule for e in episodes})
    out = []
    for rule in rules:
        meant = [f for f in faults if f.kind in catches.get(rule, ())]
        ttd = [t for f in meant if (t := time_to_detect(f, spans.get(rule, []))) is not None]
        mine = [e for e in episodes if e.rule == rule]
        ttr = [e.duration_s for e in mine if e.duration_s is not None]
        if not meant and not mine:
            continue
        out.append(RuleTimes(rule, len(meant), len(ttd),
                             float(np.mean(ttd)) if ttd else None, len(mine), len(ttr),
                             float(np.mean(ttr)) if ttr else None))
    return tuple(out)


# --- the report ----------------------------------------------------------------------

def build_report(inputs: ReportInputs) -> Report:
    week, prev = inputs.window, inputs.previous
    rows: dict[str, KeyRow] = {}
    for metric in CATALOG.values():
        cur = week_figures(metric, inputs.current.get(metric.id, SeriesData.empty()).within(week))
        old = week_figures(metric, inputs.prior.get(metric.id, SeriesData.empty()).within(prev))
        rows[metric.id] = KeyRow(metric, cur, old, change_between(metric, cur.mean, old.mean),
                                 status_of(metric, cur))
    groups = tuple((g, tuple(r for r in rows.values() if r.metric.group == g)) for g in GROUPS)

    faults = tuple(f for f in inputs.faults if f.start < week.end and f.end > week.start)
    episodes = (alert_episodes(inputs.alert_history, week, faults)
                if inputs.alert_history is not None else None)
    incidents = []
    for fault in faults:
        effects = []
        for mid in fault_metrics(fault):
            series = inputs.current.get(mid, SeriesData.empty()).within(week)
            e = effect_of(fault, CATALOG[mid], series, faults)
            if e is not None:
                effects.append(e)
        # The first firing about the fault by a rule meant for its kind, else by any rule.
        about_it = [e for e in episodes or () if e.fault == fault]
        meant = [e for e in about_it if fault.kind in inputs.catches.get(e.rule, ())]
        detected = min(meant or about_it, key=lambda e: e.fired_at or 0.0, default=None)
        incidents.append(Incident(fault, tuple(effects), detected))

    charts = _chart_picks(incidents, inputs.current, week)

    targeted = [r for r in rows.values() if r.metric.target is not None and r.status != "nodata"]
    compared = [r for r in rows.values() if r.change is not None and r.change.better is False]
    highlights = Highlights(
        objectives=len(targeted),
        met=tuple(r.metric.id for r in targeted if r.status == "met"),
        missed=tuple(r.metric.id for r in targeted if r.status == "missed"),
        worst_incident=max(incidents, key=lambda i: i.severity, default=None),
        biggest_change=max(compared, key=lambda r: _change_size(r), default=None),
        alerts_fired=None if episodes is None else len(episodes),
    )
    samples = sum(r.current.samples for r in rows.values())
    expected = int((week.end - week.start) // inputs.step_s) * len(CATALOG)
    return Report(
        week=inputs.week, window=week, previous=prev, groups=groups,
        incidents=tuple(incidents), alerts=episodes,
        thresholds=(threshold_changes(inputs.tuning_log, week)
                    if inputs.tuning_log is not None else None),
        charts=charts, highlights=highlights, samples=samples, expected_samples=expected,
        has_previous=any(r.previous.samples for r in rows.values()), rows=rows,
        budgets=tuple(budget_week(slo, inputs.current, week, faults, inputs.step_s)
                      for slo in inputs.slos),
        rule_times=(rule_times(inputs.alert_history, week, faults, inputs.catches)
                    if inputs.alert_history is not None else None),
    )


def _chart_picks(incidents: Sequence[Incident], current: Mapping[str, SeriesData],
                 week: Window) -> tuple[str, ...]:
    """The metrics faults moved (largest move first), then those the robust score flags."""
    moved: dict[str, float] = {}
    for inc in incidents:
        for e in inc.effects:
            size = _relative(e.worst, e.baseline)
            if size > 0.05:
                moved[e.metric_id] = max(moved.get(e.metric_id, 0.0), size)
    picks = sorted(moved, key=lambda m: -moved[m])
    scores = {mid: movement(current.get(mid, SeriesData.empty()).within(week))
              for mid in CATALOG if mid not in moved}
    picks += [m for m, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s >= MIN_CHART_SCORE]
    return tuple(picks[:MAX_CHARTS])


def _change_size(row: KeyRow) -> float:
    # Points and percents are not the same scale: compare both as relative moves.
    assert row.change is not None
    return _relative(row.current.mean, row.previous.mean)


def rule_catches(slos: Sequence[SLO]) -> dict[str, tuple[str, ...]]:
    """Which fault kinds each rule is meant to catch: the tuned rules say so in their
    spec; an SLO's burn-rate rules are meant for the faults that move its indicator."""
    out = {spec.id: spec.catches for spec in RULE_SPECS}
    for slo in slos:
        kinds = tuple(k for k, ids in FAULT_METRICS.items() if slo.indicator.metric in ids)
        for policy in POLICIES:
            out[rule_id(slo, policy)] = kinds
    return out
