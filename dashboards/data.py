"""A dashboard's data over a range, as plain values the renderers turn into text.

``load_dashboard_data`` is the only function here that does I/O (one ``read_many`` per
dashboard); ``build_dashboard_data`` and everything below it are pure, so renderers
and tests can work from synthetic series.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from alerts.burn import Budget, budget_at, joined_weights
from alerts.runbooks import DEFAULT_BASE_URL, runbook_for
from alerts.slo import SLO, default_slos
from dashboards.alertview import AlertView
from dashboards.markers import Marker
from dashboards.model import Dashboard, Panel
from monitoring.catalog import CATALOG, Target
from monitoring.store.base import Series, Store

Status = Literal["ok", "breach", "nodata", "info"]
# Worst first: the order a dashboard's overall status is picked from.
STATUS_ORDER: tuple[Status, ...] = ("breach", "nodata", "ok", "info")
MAX_CHART_POINTS = 240  # enough for a crisp line at panel width, small enough to inline


@dataclass(frozen=True)
class Stats:
    current: float | None
    current_ts: float | None
    min: float | None
    max: float | None
    mean: float | None
    p95: float | None
    samples: int
    met_ratio: float | None  # share of samples meeting the threshold; None without one


@dataclass(frozen=True)
class MetricData:
    id: str
    title: str
    unit: str
    good: str
    description: str
    threshold: Target | None
    stats: Stats
    status: Status
    # Chart series, downsampled; NaN marks a gap. Not compared: arrays have no plain ==.
    ts: np.ndarray = field(compare=False, repr=False)
    values: np.ndarray = field(compare=False, repr=False)


@dataclass(frozen=True)
class BudgetView:
    """One SLO's error budget at the dashboard's end, with where to look when it burns."""

    budget: Budget
    runbook_url: str = ""
    runbook_title: str = ""
    slo: SLO | None = None  # what the budget is of: Grafana computes it in PromQL

    @property
    def status(self) -> Status:
        b = self.budget
        if b.spent is None:
            return "nodata"
        return "breach" if b.spent >= 1.0 else "ok"


@dataclass(frozen=True)
class PanelData:
    title: str
    kind: str
    width: int
    description: str
    metrics: tuple[MetricData, ...]
    alerts: tuple[AlertView, ...]
    alert_states: tuple[str, ...] = ()  # alerts panels: the states listed
    budgets: tuple[BudgetView, ...] = ()  # budget panels: one per SLO

    @property
    def status(self) -> Status:
        if self.budgets:
            return worst(b.status for b in self.budgets)
        return worst(m.status for m in self.metrics) if self.metrics else "info"


@dataclass(frozen=True)
class RowData:
    title: str
    panels: tuple[PanelData, ...]


@dataclass(frozen=True)
class DashboardData:
    name: str
    title: str
    description: str
    start: float
    end: float
    step: float
    generated_at: float
    rows: tuple[RowData, ...]
    alerts: tuple[AlertView, ...]
    budgets: tuple[BudgetView, ...] = ()
    markers: tuple[Marker, ...] = ()  # alert episodes and faults to shade on the charts

    @property
    def panels(self) -> tuple[PanelData, ...]:
        return tuple(p for r in self.rows for p in r.panels)

    @property
    def status(self) -> Status:
        """Worst metric status; a firing alert counts as a breach even if values look fine."""
        statuses = [m.status for p in self.panels for m in p.metrics]
        statuses += [b.status for b in self.budgets if b.status == "breach"]
        return worst([*statuses, *(["breach"] if self.firing else [])])

    @property
    def firing(self) -> tuple[AlertView, ...]:
        return tuple(a for a in self.alerts if a.state == "firing")


def worst(statuses: Iterable[Status]) -> Status:
    seen = set(statuses)
    return next((s for s in STATUS_ORDER if s in seen), "info")


# --- pure summaries ----------------------------------------------------------------

def _opt(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def summarise(values: np.ndarray, ts: np.ndarray, threshold: Target | None) -> Stats:
    """Current (last value with data), min/max/mean/p95 and share meeting ``threshold``."""
    ok = ~np.isnan(values)
    n = int(ok.sum())
    if n == 0:
        return Stats(None, None, None, None, None, None, 0, None)
    vals = values[ok]
    last = int(np.flatnonzero(ok)[-1])
    met = None
    if threshold is not None:
        met = float(np.mean(_met_vector(vals, threshold)))
    return Stats(
        current=float(values[last]), current_ts=float(ts[last]),
        min=float(vals.min()), max=float(vals.max()), mean=float(vals.mean()),
        p95=float(np.percentile(vals, 95)), samples=n, met_ratio=met,
    )


def _met_vector(vals: np.ndarray, threshold: Target) -> np.ndarray:
    # Vectorised Target.met: a week at one-minute steps is 10k values per metric.
    ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
    return ops[threshold.op](vals, threshold.value)


def status_of(stats: Stats, threshold: Target | None) -> Status:
    if stats.current is None:
        return "nodata"
    if threshold is None:
        return "info"
    return "ok" if threshold.met(stats.current) else "breach"


def downsample(ts: np.ndarray, values: np.ndarray, good: str,
               max_points: int = MAX_CHART_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` buckets, keeping each bucket's worst value.

    The worst (max when lower is better, min when higher is better) rather than the
    mean, so a one-minute breach stays visible at a week's zoom.
    """
    n = len(values)
    if n <= max_points:
        return ts.astype(float), values.astype(float)
    k = math.ceil(n / max_points)
    pad = (-n) % k
    v = np.concatenate([values.astype(float), np.full(pad, np.nan)]).reshape(-1, k)
    reduce = {"down": np.nanmax, "up": np.nanmin}.get(good, np.nanmean)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN buckets stay NaN
        out = reduce(v, axis=1)
    return ts[::k].astype(float), out


def metric_data(metric_id: str, series: Series, threshold: Target | None,
                max_points: int = MAX_CHART_POINTS) -> MetricData:
    metric = CATALOG[metric_id]
    values = np.asarray(series.values, dtype=float)
    ts = np.asarray(series.ts, dtype=float)
    stats = summarise(values, ts, threshold)
    cts, cvals = downsample(ts, values, metric.good, max_points)
    return MetricData(
        id=metric.id, title=metric.title, unit=metric.unit, good=metric.good,
        description=metric.description, threshold=threshold, stats=stats,
        status=status_of(stats, threshold), ts=cts, values=cvals,
    )


def slo_budgets(slos: Sequence[SLO], series: Mapping[str, Series], at: float,
                runbook_base: str = DEFAULT_BASE_URL) -> tuple[BudgetView, ...]:
    """Every SLO's budget at ``at`` from raw samples, by ``alerts.burn.budget_at`` (pure)."""
    out = []
    for slo in slos:
        ind = slo.indicator
        s = series.get(ind.metric) or Series.empty(ind.metric)
        weights = None
        if ind.weight is not None:
            w = series.get(ind.weight) or Series.empty(ind.weight)
            weights = joined_weights(s.ts, w.ts, w.values)
        book = runbook_for(slo.name)
        out.append(BudgetView(budget_at(slo, s.ts, s.values, weights, at),
                              book.url(runbook_base) if book else "",
                              book.title if book else "", slo))
    return tuple(out)


def _panel_alerts(panel: Panel, alerts: Sequence[AlertView]) -> tuple[AlertView, ...]:
    chosen = [a for a in alerts if a.state in panel.alert_states]
    rank = {"firing": 0, "pending": 1, "resolved": 2}
    # Firing first, then newest first: what needs attention is at the top.
    return tuple(sorted(chosen, key=lambda a: (rank[a.state], -a.since, a.name)))


def build_dashboard_data(
    dashboard: Dashboard,
    series: Mapping[str, Series],
    start: float,
    end: float,
    *,
    step: float,
    generated_at: float | None = None,
    alerts: Sequence[AlertView] = (),
    thresholds: Mapping[str, Target] | None = None,
    max_points: int = MAX_CHART_POINTS,
    budgets: Sequence[BudgetView] = (),
) -> DashboardData:
    """Summarise already-read series into the dashboard's plain data (pure)."""
    cache: dict[tuple[str, Target | None], MetricData] = {}

    def one(mid: str, threshold: Target | None) -> MetricData:
        key = (mid, threshold)
        if key not in cache:  # a metric on several panels is summarised once
            s = series.get(mid) or Series.empty(mid)
            cache[key] = metric_data(mid, s, threshold, max_points)
        return cache[key]

    rows = []
    for row in dashboard.rows:
        panels = []
        for panel in row.panels:
            th = panel.thresholds(thresholds)
            panels.append(PanelData(
                title=panel.title, kind=panel.kind, width=panel.width,
                description=panel.description,
                metrics=tuple(one(mid, th[mid]) for mid in panel.metrics),
                alerts=_panel_alerts(panel, alerts) if panel.kind == "alerts" else (),
                alert_states=panel.alert_states,
                budgets=tuple(budgets) if panel.kind == "budget" else (),
            ))
        rows.append(RowData(row.title, tuple(panels)))
    return DashboardData(
        name=dashboard.name, title=dashboard.title, description=dashboard.description,
        start=start, end=end, step=step,
        generated_at=end if generated_at is None else generated_at,
        rows=tuple(rows), alerts=tuple(alerts), budgets=tuple(budgets),
    )


def load_dashboard_data(
    dashboard: Dashboard,
    store: Store,
    start: float,
    end: float,
    *,
    step: float = 60.0,
    generated_at: float | None = None,
    alerts: Sequence[AlertView] = (),
    thresholds: Mapping[str, Target] | None = None,
    max_points: int = MAX_CHART_POINTS,
    slos: Sequence[SLO] | None = None,
    runbook_base: str = DEFAULT_BASE_URL,
) -> DashboardData:
    """Read every metric the dashboard shows in one ``read_many`` and summarise it.

    A dashboard with a budget panel also reads each SLO's series over its whole window
    (raw samples, as the burn-rate alerts see them), ending at ``end``.
    """
    series = store.read_many(list(dashboard.metric_ids), start, end, step)
    budgets: tuple[BudgetView, ...] = ()
    if any(p.kind == "budget" for p in dashboard.panels):
        slos = default_slos() if slos is None else slos
        ids = list(dict.fromkeys(m for slo in slos for m in slo.indicator.metrics))
        longest = max((slo.window for slo in slos), default=0.0)
        raw = store.read_many(ids, end - longest, end) if ids else {}
        budgets = slo_budgets(slos, raw, end, runbook_base)
    return build_dashboard_data(
        dashboard, series, start, end, step=step, generated_at=generated_at,
        alerts=alerts, thresholds=thresholds, max_points=max_points, budgets=budgets,
    )
