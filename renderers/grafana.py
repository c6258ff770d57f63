"""One Grafana dashboard (import JSON) per dashboard; the only module using grafanalib.

Queries come from the catalog (``metric.promql``), thresholds from each metric's
resolved target, the data source from a template variable so the file imports into
any Grafana with a Prometheus data source.
"""

from __future__ import annotations

import json
from typing import Any

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from alerts.slo import allowed_fraction
from alerts.slo_export import ratio_name
from dashboards.data import BudgetView, DashboardData, MetricData, PanelData
from monitoring import catalog
from monitoring.catalog import CATALOG, Target
from monitoring.durations import format_duration

GRAFANA_SCHEMA_VERSION = 39
DS_INPUT = "DS_PROMETHEUS"  # replaced by Grafana's import dialog
DS_VARIABLE = "datasource"
DATASOURCE = {"type": "prometheus", "uid": f"${{{DS_VARIABLE}}}"}
RATE_WINDOW = "$__rate_interval"  # Grafana picks a window that fits the scrape interval
GRID_SCALE = 2  # our 12-column grid in Grafana's 24
HEIGHT = {"stat": 5, "timeseries": 8, "table": 8, "alerts": 7, "budget": 8}
BUDGET_REMAINING = catalog.SLO_BUDGET_REMAINING  # recorded by alerts.slo_export
UNITS = {"ms": "ms", "s": "s", "%": "percent", "req/s": "reqps", "per s": "cps",
         "count": "short", "MB": "decmbytes", "cores": "short", "regions": "short"}
GOOD, BAD, NEUTRAL = "green", "red", "blue"


def threshold_steps(target: Target | None) -> list[dict[str, Any]]:
    """Grafana threshold steps: the colour from each value upwards."""
    if target is None:
        return [{"color": NEUTRAL, "value": None}]
    below_is_good = target.op in ("<", "<=")
    return [{"color": GOOD if below_is_good else BAD, "value": None},
            {"color": BAD if below_is_good else GOOD, "value": target.value}]


def _targets(metrics: tuple[MetricData, ...]) -> list[g.Target]:
    return [
        g.Target(expr=CATALOG[m.id].promql(RATE_WINDOW), legendFormat=m.title,
                 refId=chr(ord("A") + i), datasource=DATASOURCE)
        for i, m in enumerate(metrics)
    ]


def _per_series_thresholds(metrics: tuple[MetricData, ...]) -> list[dict[str, Any]]:
    # Panel thresholds are shared; a series with its own target gets an override.
    return [
        {"matcher": {"id": "byName", "options": m.title},
         "properties": [{"id": "thresholds",
                         "value": {"mode": "absolute", "steps": threshold_steps(m.threshold)}}]}
        for m in metrics[1:] if m.threshold != metrics[0].threshold
    ]


def budget_burn_expr(budgets: tuple[BudgetView, ...], window_s: float) -> str:
    """Every SLO's burn rate over ``window_s`` from the exported recording rules: the
    recorded error ratio over that SLO's allowed one, one ``or`` term per SLO."""
    terms = []
    for v in budgets:
        budget = allowed_fraction(v.budget.objective)
        terms.append(f'{ratio_name(window_s)}{{slo="{v.budget.slo}"}} / {budget!r}')
    return " or ".join(f"({t})" for t in terms)


def _budget_panel(p: PanelData, common: dict[str, Any]) -> g.Panel:
    """One row per SLO: budget left and the burn rate per window (instant queries)."""
    names = "|".join(v.budget.slo for v in p.budgets)
    windows = [w for w, _ in p.budgets[0].budget.burn] if p.budgets else []
    targets = [g.Target(expr=f'{BUDGET_REMAINING}{{slo=~"{names}"}}', legendFormat="{{slo}}",
                        refId="A", datasource=DATASOURCE, format="table", instant=True)]
    rename = {"Value #A": "Budget left"}
    for i, w in enumerate(windows, 1):
        ref = chr(ord("A") + i)
        targets.append(g.Target(expr=budget_burn_expr(p.budgets, w), legendFormat="{{slo}}",
                                refId=ref, datasource=DATASOURCE, format="table",
                                instant=True))
        rename[f"Value #{ref}"] = f"Burn {format_duration(w)}"
    links = {v.runbook_url: f"Runbook: {v.runbook_title or v.budget.slo}"
             for v in p.budgets if v.runbook_url}
    return g.Table(
        dataSource=DATASOURCE, targets=targets,
        thresholds=[{"color": GOOD, "value": None}, {"color": BAD, "value": 1.0}],
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {
                             "excludeByName": {"Time": True}, "renameByName": rename}}],
        overrides=[{"matcher": {"id": "byName", "options": "Budget left"},
                    "properties": [{"id": "unit", "value": "percentunit"}]}],
        links=[{"title": title, "url": url} for url, title in links.items()],
        **common)


def _panel(p: PanelData, pos: g.GridPos) -> g.Panel:
    common: dict[str, Any] = {"title": p.title, "description": p.description, "gridPos": pos}
    if p.kind == "budget":
        return _budget_panel(p, common)
    if p.kind == "alerts":
        history = "resolved" in p.alert_states
        return g.AlertList(show=g.ALERTLIST_SHOW_CHANGES if history else g.ALERTLIST_SHOW_CURRENT,
                           limit=20, **common)
    first = p.metrics[0]
    common.update(dataSource=DATASOURCE, targets=_targets(p.metrics),
                  thresholds=threshold_steps(first.threshold))
    if p.kind == "stat":
        return g.Stat(format=UNITS[first.unit], graphMode="area", colorMode="value",
                      color={"mode": "thresholds"}, noValue="No data",
                      reduceCalc="lastNotNull", **common)
    if p.kind == "timeseries":
        return g.TimeSeries(unit=UNITS[first.unit], thresholdsStyleMode="dashed",
                            overrides=_per_series_thresholds(p.metrics), **common)
    # A table: one row per metric with its last, min, mean and max over the range.
    return g.Table(transformations=[{"id": "reduce", "options": {
        "reducers": ["lastNotNull", "min", "mean", "max"]}}], **common)


def to_grafana(data: DashboardData) -> g.Dashboard:
    panels: list[g.Panel] = []
    y = 0
    for row in data.rows:
        panels.append(g.RowPanel(title=row.title, gridPos=g.GridPos(h=1, w=24, x=0, y=y)))
        y += 1
        x, row_h = 0, 0
        for p in row.panels:
            w, h = p.width * GRID_SCALE, HEIGHT[p.kind]
            if x + w > 24:
                x, y, row_h = 0, y + row_h, 0
            panels.append(_panel(p, g.GridPos(h=h, w=w, x=x, y=y)))
            x, row_h = x + w, max(row_h, h)
        y += row_h
    return g.Dashboard(
        title=f"ION Monitoring · {data.title}",
        uid=f"ionmon-{data.name}",
        description=data.description,
        tags=["ion-monitoring", data.name],
        timezone="utc",
        refresh="1m",
        schemaVersion=GRAFANA_SCHEMA_VERSION,
        time=g.Time("now-24h", "now"),
        inputs=[g.DataSourceInput(name=DS_INPUT, label="Prometheus", pluginId="prometheus",
                                  pluginName="Prometheus",
                                  description="Prometheus scraping the ION service")],
        templating=g.Templating(list=[g.Template(
            name=DS_VARIABLE, label="Data source", type="datasource", query="prometheus",
            default=f"${{{DS_INPUT}}}", hide=0)]),
        panels=panels,
    ).auto_panel_ids()


def render_grafana(data: DashboardData) -> str:
    return json.dumps(to_grafana(data).to_json_data(), cls=DashboardEncoder, sort_keys=True,
                      indent=2) + "\n"
