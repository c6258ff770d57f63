"""Dashboard data as one self-contained HTML page: inline CSS, inline SVG charts.

Every value passes through Jinja's autoescaping and charts carry their alert episodes
and faults as shaded bands named on hover. A static page runs nothing: its
Content-Security-Policy forbids scripts and remote loads, and a meta refresh reloads it.
A live page (``live=LiveView(...)``) adds a range picker and one inline script, allowed
by its hash alone, that shows values under a crosshair, zooms to a dragged range and
refreshes the data in place; without JavaScript it still reads and reloads whole.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import jinja2

from dashboards.alertview import AlertView
from dashboards.data import BudgetView, DashboardData, MetricData, PanelData
from dashboards.definitions import DASHBOARDS
from dashboards.markers import Marker, evidence_panel, panel_anchor
from renderers.charts import Chart, build_chart, spark_path
from renderers.fmt import (
    MISSING,
    STATUS_LABEL,
    fmt_burn,
    fmt_exhaustion,
    fmt_iso,
    fmt_number,
    fmt_percent,
    fmt_range,
    fmt_remaining,
    fmt_threshold,
    fmt_time,
    fmt_value,
    fmt_window,
    safe_url,
)

TEMPLATES = Path(__file__).parent / "templates"
PX_PER_COLUMN = 100  # chart viewBox width per grid column, so text is one size everywhere
CHART_HEIGHT = 220
RANGE_PRESETS = ("1h", "6h", "24h", "7d", "week")
EVIDENCE_PAD_S = 1800.0  # an alert's link shows at least this much either side of it


@dataclass(frozen=True)
class LiveView:
    """What a served page adds to the static one."""

    range_query: tuple[tuple[str, str], ...]  # the query naming the range shown
    preset: str | None = None  # the preset shown; None for a custom from/to
    presets: tuple[str, ...] = RANGE_PRESETS

    def href(self, path: str, query: Sequence[tuple[str, str]] = (), anchor: str = "") -> str:
        q = urlencode(list(query))
        return f"{path}{'?' + q if q else ''}{'#' + anchor if anchor else ''}"


@dataclass(frozen=True)
class RangeLink:
    label: str
    href: str
    current: bool


@dataclass(frozen=True)
class NavLink:
    name: str
    title: str
    href: str
    current: bool


@dataclass(frozen=True)
class MetricView:
    m: MetricData
    number: str
    unit: str
    value: str
    target: str
    status_label: str
    min: str
    mean: str
    p95: str
    max: str
    met: str
    spark: str


@dataclass(frozen=True)
class BudgetRow:
    v: BudgetView
    objective: str
    remaining: str
    bar: float  # percent of the bar filled: the budget left, 0..100
    burns: tuple[tuple[str, bool], ...]  # (text, burning faster than the budget allows)
    exhaustion: str
    href: str | None


@dataclass(frozen=True)
class AlertRow:
    a: AlertView
    runbook: str | None
    evidence: str | None  # the panel that shows the alert's metric, at its episode


@dataclass(frozen=True)
class PanelView:
    p: PanelData
    metrics: tuple[MetricView, ...]
    chart: Chart | None
    budgets: tuple[BudgetRow, ...] = ()
    windows: tuple[str, ...] = ()
    anchor: str = ""
    alerts: tuple[AlertRow, ...] = ()


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value, whatever the file extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _unit_label(unit: str) -> str:
    return {"count": "", "regions": "", "per s": "/s"}.get(unit, unit)


def _metric_view(m: MetricData) -> MetricView:
    s = m.stats
    number = fmt_number(s.current)
    return MetricView(
        m=m, number=number, unit=_unit_label(m.unit) if number != MISSING else "",
        value=fmt_value(s.current, m.unit), target=fmt_threshold(m.threshold, m.unit),
        status_label=STATUS_LABEL[m.status], min=fmt_value(s.min, m.unit),
        mean=fmt_value(s.mean, m.unit), p95=fmt_value(s.p95, m.unit),
        max=fmt_value(s.max, m.unit), met=fmt_percent(s.met_ratio), spark=spark_path(m),
    )


def _budget_row(v: BudgetView) -> BudgetRow:
    b = v.budget
    left = b.remaining
    return BudgetRow(
        v=v, objective=f"{b.objective:g}% · {fmt_window(b.window_s)}",
        remaining=fmt_remaining(left),
        bar=0.0 if left is None else round(min(max(left, 0.0), 1.0) * 100, 1),
        burns=tuple((fmt_burn(r), r is not None and r > 1.0) for _, r in b.burn),
        exhaustion=fmt_exhaustion(b.exhaustion_s), href=safe_url(v.runbook_url),
    )


def _episode(a: AlertView, markers: Sequence[Marker]) -> Marker | None:
    """The alert's episode: the open one when firing, the one it ended when resolved."""
    mine = [m for m in markers if m.kind == "alert" and m.name == a.name]
    if a.state == "resolved":
        return next((m for m in mine if m.end == a.since), None)
    return next((m for m in reversed(mine) if m.start <= a.since + 1 and
                 (m.end is None or m.end >= a.since)), None)


def _evidence(a: AlertView, data: DashboardData, link_pattern: str,
              live: LiveView | None) -> str | None:
    found = evidence_panel(a.metric)
    if found is None:
        return None
    name, anchor = found
    if live is None:  # a static page links to the other page as it was rendered
        return f"{link_pattern.format(name=name)}#{anchor}"
    ep = _episode(a, data.markers)
    start, end = (ep.start, ep.until(data.end)) if ep else (a.since, a.since)
    pad = max(EVIDENCE_PAD_S, (end - start) / 2)
    lo, hi = start - pad, min(end + pad, max(data.end, end))
    return live.href(link_pattern.format(name=name),
                     (("from", fmt_iso(60 * (lo // 60))), ("to", fmt_iso(60 * -(-hi // 60)))),
                     anchor)


def _panel_view(p: PanelData, data: DashboardData, link_pattern: str,
                live: LiveView | None) -> PanelView:
    anchor = panel_anchor(p.title)
    if p.kind == "budget":
        windows = tuple(fmt_window(w) for w, _ in p.budgets[0].budget.burn) if p.budgets else ()
        return PanelView(p, (), None, tuple(_budget_row(v) for v in p.budgets), windows,
                         anchor)
    chart = None
    if p.kind == "timeseries":
        chart = build_chart(p.metrics, data.start, data.end, width=p.width * PX_PER_COLUMN,
                            height=CHART_HEIGHT, markers=data.markers)
    alerts = tuple(AlertRow(a, safe_url(a.runbook_url),
                            _evidence(a, data, link_pattern, live)) for a in p.alerts)
    return PanelView(p, tuple(_metric_view(m) for m in p.metrics), chart, anchor=anchor,
                     alerts=alerts)


@cache
def _script() -> tuple[str, str]:
    """The live page's script and its CSP hash (only that exact text may run)."""
    text = (TEMPLATES / "live.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return text, f"'sha256-{digest}'"


def _chart_step(rows: Sequence[tuple[str, Sequence[PanelView]]]) -> float | None:
    spacings = [pv.chart.spacing for _, panels in rows for pv in panels
                if pv.chart is not None and pv.chart.spacing]
    return spacings[0] if spacings else None


def render_html(
    data: DashboardData,
    *,
    refresh_s: int | None = 60,
    link_pattern: str = "{name}.html",
    dashboards: Sequence[tuple[str, str]] | None = None,
    live: LiveView | None = None,
) -> str:
    """The page for one dashboard; ``link_pattern`` spells the links to the others.
    With ``live``, links keep the range shown and the page gets its range picker and
    script."""
    others = dashboards if dashboards is not None else [(d.name, d.title)
                                                       for d in DASHBOARDS.values()]

    def page(name: str) -> str:
        path = link_pattern.format(name=name)
        return path if live is None else live.href(path, live.range_query)

    nav = [NavLink(n, t, page(n), n == data.name) for n, t in others]
    rows = [(r.title, [_panel_view(p, data, link_pattern, live) for p in r.panels])
            for r in data.rows]
    here = link_pattern.format(name=data.name)
    ranges = [] if live is None else [
        RangeLink(p, live.href(here, (("range", p),)), p == live.preset) for p in live.presets]
    script, script_hash = _script() if live is not None else ("", "")
    step = _chart_step(rows)
    return _env().get_template("dashboard.html.j2").render(
        d=data, rows=rows, nav=nav, refresh_s=refresh_s, live=live, ranges=ranges,
        script=script, script_hash=script_hash,
        status_label=STATUS_LABEL[data.status], range_text=fmt_range(data.start, data.end),
        step_text=fmt_window(step) if step else "", here=here,
        from_value=fmt_iso(data.start)[:16], to_value=fmt_iso(data.end)[:16],
        generated=fmt_time(data.generated_at), fmt_time=fmt_time, labels=STATUS_LABEL,
        unit_label=_unit_label, safe_url=safe_url, fmt_window=fmt_window,
    )
