"""Dashboard data as one self-contained HTML page: inline CSS, inline SVG charts.

Nothing is fetched and nothing runs: a Content-Security-Policy forbids scripts and
remote loads, and every value passes through Jinja's autoescaping. A meta refresh
reloads the page, so a server can call ``render_html`` once per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from dashboards.data import BudgetView, DashboardData, MetricData, PanelData
from dashboards.definitions import DASHBOARDS
from renderers.charts import Chart, build_chart, spark_path
from renderers.fmt import (
    MISSING,
    STATUS_LABEL,
    fmt_burn,
    fmt_exhaustion,
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
class PanelView:
    p: PanelData
    metrics: tuple[MetricView, ...]
    chart: Chart | None
    budgets: tuple[BudgetRow, ...] = ()
    windows: tuple[str, ...] = ()


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


def _panel_view(p: PanelData, start: float, end: float) -> PanelView:
    if p.kind == "budget":
        windows = tuple(fmt_window(w) for w, _ in p.budgets[0].budget.burn) if p.budgets else ()
        return PanelView(p, (), None, tuple(_budget_row(v) for v in p.budgets), windows)
    chart = None
    if p.kind == "timeseries":
        chart = build_chart(p.metrics, start, end, width=p.width * PX_PER_COLUMN,
                            height=CHART_HEIGHT)
    return PanelView(p, tuple(_metric_view(m) for m in p.metrics), chart)


def render_html(
    data: DashboardData,
    *,
    refresh_s: int | None = 60,
    link_pattern: str = "{name}.html",
    dashboards: Sequence[tuple[str, str]] | None = None,
) -> str:
    """The page for one dashboard; ``link_pattern`` spells the links to the others."""
    others = dashboards if dashboards is not None else [(d.name, d.title)
                                                       for d in DASHBOARDS.values()]
    nav = [NavLink(n, t, link_pattern.format(name=n), n == data.name) for n, t in others]
    rows = [(r.title, [_panel_view(p, data.start, data.end) for p in r.panels])
            for r in data.rows]
    return _env().get_template("dashboard.html.j2").render(
        d=data, rows=rows, nav=nav, refresh_s=refresh_s,
        status_label=STATUS_LABEL[data.status], range_text=fmt_range(data.start, data.end),
        generated=fmt_time(data.generated_at), fmt_time=fmt_time, labels=STATUS_LABEL,
        unit_label=_unit_label, safe_url=safe_url,
    )
