"""One Grafana dashboard (import JSON) per dashboard; the only module using grafanalib.

Queries come from the catalog (``metric.promql``), thresholds from each metric's
resolved target, the data source from a template variable so the file imports into
any Grafana with a Prometheus data source. The output validates against Grafana's
dashboard JSON schema (the v1 dashboard kind, ``schemaVersion`` 39 and current).

grafanalib builds the dashboard, the stat, time series and table panels and their
queries. Its JSON is of an older Grafana: every unset field as ``null`` and the legacy
layout keys (``rows``, ``hideControls``, ``span``, the old table's ``columns``), which
the schema rejects, so :func:`modern` drops them. Three parts it has no current form
for are plain dicts: row panels (its ``RowPanel`` carries panel-only fields), the
alert-list panel (its ``AlertList`` is Grafana 7's, before unified alerting) and the
template variables and annotations (its ``Template`` writes the removed tag keys).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from alerts.slo import SLO
from dashboards.data import DashboardData, MetricData, PanelData
from monitoring import catalog
from monitoring.catalog import CATALOG, REGIONS, Target
from monitoring.durations import format_duration

GRAFANA_SCHEMA_VERSION = 39
DS_VARIABLE = "datasource"
DATASOURCE = {"type": "prometheus", "uid": f"${{{DS_VARIABLE}}}"}
REGION_VARIABLE = "region"
RATE_WINDOW = "$__rate_interval"  # Grafana picks a window that fits the scrape interval
GRID_SCALE = 2  # our 12-column grid in Grafana's 24
HEIGHT = {"stat": 5, "timeseries": 8, "table": 8, "alerts": 7, "budget": 8}
UNITS = {"ms": "ms", "s": "s", "%": "percent", "req/s": "reqps", "per s": "cps",
         "count": "short", "MB": "decmbytes", "cores": "short", "regions": "short"}
GOOD, BAD, NEUTRAL = "green", "red", "blue"
# Grafana reads a threshold list's first step as the base (from -Infinity) whatever its
# value; JSON has no -Infinity and the 11.0 schema refuses null, so it holds the lowest
# float.
BASE_STEP = -sys.float_info.max
SCRAPE_STEP_S = 60.0  # budgets count minutes, as the embedded store holds them
# Keys of grafanalib's output that the current schema has no place for.
LEGACY_DASHBOARD_KEYS = ("rows", "hideControls", "sharedCrosshair", "style", "__inputs")
LEGACY_PANEL_KEYS = ("span", "minSpan", "height", "editable", "error",
                     "columns", "fontSize", "color", "mappings")  # the last four: table-old
ALERT_STATES = {"firing": "firing", "pending": "pending", "resolved": "normal"}
ALERTS_FIRING = 'ALERTS{alertstate="firing"}'
ALERTLIST_TIME_DESC = 5  # the alert-list panel's sort orders: 1 by name … 5 newest first


def threshold_steps(target: Target | None) -> list[dict[str, Any]]:
    """Grafana threshold steps: the colour from each value upwards."""
    if target is None:
        return [{"color": NEUTRAL, "value": BASE_STEP}]
    below_is_good = target.op in ("<", "<=")
    return [{"color": GOOD if below_is_good else BAD, "value": BASE_STEP},
            {"color": BAD if below_is_good else GOOD, "value": target.value}]


def _thresholds(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": steps}


def by_names(*names: str) -> dict[str, Any]:
    """A field matcher naming fields (its options an object, as the schema has them)."""
    return {"id": "byNames", "options": {"mode": "include", "names": list(names)}}


def region_query(promql: str) -> str:
    """A per-region metric's PromQL narrowed by the ``region`` variable: its
    ``region="us"`` matchers gain ``region=~"$region"``, so the series shows only while
    its region is selected. PromQL naming no single region is returned as it is."""
    named = [r for r in REGIONS if f'region="{r}"' in promql]
    if len(named) != 1:
        return promql
    matcher = f'region="{named[0]}"'
    return promql.replace(matcher, f'{matcher},region=~"${REGION_VARIABLE}"')


def _targets(metrics: tuple[MetricData, ...]) -> list[g.Target]:
    return [
        g.Target(expr=region_query(CATALOG[m.id].promql(RATE_WINDOW)), legendFormat=m.title,
                 refId=chr(ord("A") + i), datasource=DATASOURCE)
        for i, m in enumerate(metrics)
    ]


def _per_series_thresholds(metrics: tuple[MetricData, ...]) -> list[dict[str, Any]]:
    # Panel thresholds are shared; a series with its own target gets an override.
    return [
        {"matcher": by_names(m.title),
         "properties": [{"id": "thresholds", "value": _thresholds(threshold_steps(m.threshold))}]}
        for m in metrics[1:] if m.threshold != metrics[0].threshold
    ]


# --- error budgets: the way alerts.burn.budget_at computes them ------------------

def _num(v: float) -> str:
    return repr(round(float(v), 12))


def minute_events(slo: SLO) -> tuple[str, str]:
    """(bad events, all events) per minute as PromQL over the catalog's series, as
    ``alerts.burn.events`` counts them: a ratio minute's bad fraction weighted by its
    events per second (the ``weight`` series), a threshold minute 1 when it misses."""
    ind = slo.indicator
    promql = catalog.get(ind.metric).promql("5m")
    value = f"(({promql}) == ({promql}))"  # minutes with a value (NaN is none)
    if ind.kind == "threshold":
        bad_op = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}[ind.op]  # type: ignore[index]
        return f"({value} {bad_op} bool {_num(ind.value)})", f"({value} * 0 + 1)"  # type: ignore[arg-type]
    bad = f"clamp(1 - {value} / 100, 0, 1)"
    if ind.weight is None:
        return bad, f"({value} * 0 + 1)"
    weight = f"(({catalog.get(ind.weight).promql('5m')}) > 0)"
    return f"({bad} * {weight})", f"({weight} and {value})"


def _span(window_s: float) -> str:
    # The minutes in (t - window, t]: half a step short, so a closed range (Prometheus 2)
    # and an open one (Prometheus 3) select the same samples.
    return f"[{format_duration(window_s - SCRAPE_STEP_S / 2)}:{format_duration(SCRAPE_STEP_S)}]"


def burn_expr(slo: SLO, window_s: float) -> str:
    """Burn rate over ``window_s`` as ``alerts.burn.budget_at`` computes it: the window's
    bad events over its events, over the allowed bad fraction."""
    bad, total = minute_events(slo)
    span = _span(window_s)
    return (f"sum_over_time({bad}{span}) / sum_over_time({total}{span}) / "
            f"{_num(slo.budget)}")


def remaining_expr(slo: SLO) -> str:
    """Budget left over the SLO window, as ``alerts.burn.spent_share``: the bad fraction
    of the data held times the share of the window's minutes holding events, over the
    allowed fraction (a store holding part of the window reports the whole window's)."""
    bad, total = minute_events(slo)
    span = _span(slo.window)
    return (f"1 - sum_over_time({bad}{span}) / sum_over_time({total}{span}) * "
            f"count_over_time({total}{span}) / {_num(slo.window / SCRAPE_STEP_S)} / "
            f"{_num(slo.budget)}")


def _slo_join(slos: list[SLO], expr: Callable[[SLO], str]) -> str:
    # One series per SLO, labelled by it, so the table's rows line up across queries.
    return " or ".join(f'label_replace({expr(s)}, "slo", "{s.name}", "", "")' for s in slos)


BUDGET_LEFT = "Budget left (%)"


def _budget_panel(p: PanelData, common: dict[str, Any]) -> g.Panel:
    """One row per SLO: budget left and the burn rate per window (instant queries),
    computed from the raw series, so a Prometheus loaded from an export shows them over
    its whole range without recording rules."""
    slos = [v.slo for v in p.budgets if v.slo is not None]
    windows = [w for w, _ in p.budgets[0].budget.burn] if p.budgets else []
    targets = [g.Target(expr=f"100 * ({_slo_join(slos, remaining_expr)})",
                        legendFormat="{{slo}}", refId="A", datasource=DATASOURCE,
                        format="table", instant=True)]
    rename = {"Value #A": BUDGET_LEFT}
    for i, w in enumerate(windows, 1):
        ref = chr(ord("A") + i)
        targets.append(g.Target(expr=_slo_join(slos, lambda s, w=w: burn_expr(s, w)),
                                legendFormat="{{slo}}", refId=ref, datasource=DATASOURCE,
                                format="table", instant=True))
        rename[f"Value #{ref}"] = f"Burn {format_duration(w)}"
    links = {v.runbook_url: f"Runbook: {v.runbook_title or v.budget.slo}"
             for v in p.budgets if v.runbook_url}
    return g.Table(
        dataSource=DATASOURCE, targets=targets,
        thresholds=[{"color": GOOD, "value": BASE_STEP}, {"color": BAD, "value": 1.0}],
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": {
                             "excludeByName": {"Time": True}, "renameByName": rename}}],
        overrides=[{"matcher": by_names(BUDGET_LEFT),
                    "properties": [{"id": "thresholds", "value": _thresholds(
                        [{"color": BAD, "value": BASE_STEP}, {"color": GOOD, "value": 0.0}])}]}],
        links=[_link(title, url) for url, title in links.items()],
        **common)


def _link(title: str, url: str) -> dict[str, Any]:
    return {"title": title, "url": url, "type": "link", "icon": "doc", "tooltip": title,
            "tags": [], "asDropdown": False, "targetBlank": True, "includeVars": False,
            "keepTime": False}


def _alert_list(p: PanelData, pos: g.GridPos) -> dict[str, Any]:
    """The unified-alerting alert list: Prometheus rules' alerts as well as Grafana's."""
    states = {ALERT_STATES[s] for s in p.alert_states}
    options = {
        "alertInstanceLabelFilter": "", "alertName": "", "dashboardAlerts": False,
        "groupBy": [], "groupMode": "default", "maxItems": 20, "showInstances": True,
        "sortOrder": ALERTLIST_TIME_DESC, "viewMode": "list",
        "stateFilter": {s: s in states for s in ("firing", "pending", "noData", "normal",
                                                  "error")},
    }
    return {"type": "alertlist", "title": p.title, "description": p.description,
            "gridPos": pos.to_json_data(), "options": options}


def _panel(p: PanelData, pos: g.GridPos) -> g.Panel | dict[str, Any]:
    common: dict[str, Any] = {"title": p.title, "description": p.description, "gridPos": pos}
    if p.kind == "budget":
        return _budget_panel(p, common)
    if p.kind == "alerts":
        return _alert_list(p, pos)
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


def _row(title: str, y: int) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}}


def _variables() -> list[dict[str, Any]]:
    regions = ",".join(REGIONS)
    return [
        {"name": DS_VARIABLE, "label": "Data source", "type": "datasource",
         "query": "prometheus", "hide": 0, "regex": "", "refresh": 1,
         "current": {"text": "Prometheus", "value": "prometheus"}},
        {"name": REGION_VARIABLE, "label": "Region", "type": "custom", "query": regions,
         "multi": True, "includeAll": True, "hide": 0,
         "current": {"text": ["All"], "value": ["$__all"]},
         "options": [{"text": "All", "value": "$__all", "selected": True},
                     *({"text": r, "value": r, "selected": False} for r in REGIONS)]},
    ]


def _annotations() -> list[dict[str, Any]]:
    """Grafana's own annotations, the firing alerts (Prometheus's ``ALERTS``) and the
    faults a backfill injected (the export's fault series, 1 while a fault lasts)."""
    return [
        {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
         "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
         "name": "Annotations & Alerts", "type": "dashboard"},
        {"name": "Alerts firing", "datasource": DATASOURCE, "enable": True,
         "iconColor": "red", "expr": ALERTS_FIRING},
        {"name": "Faults injected", "datasource": DATASOURCE, "enable": True,
         "iconColor": "purple", "expr": f"{catalog.FAULT_SERIES} > 0"},
    ]


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def modern(obj: Any) -> dict[str, Any]:
    """grafanalib's JSON of a dashboard or a panel in the current model: no nulls, no
    legacy keys."""
    doc = _drop_nulls(json.loads(json.dumps(obj.to_json_data(), cls=DashboardEncoder)))
    for key in (*LEGACY_DASHBOARD_KEYS, *LEGACY_PANEL_KEYS):
        doc.pop(key, None)
    doc.get("timepicker", {}).pop("time_options", None)  # gone from the current schema
    custom = doc.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
    if "displayMode" in custom:  # a table cell's look is its cellOptions now
        custom["cellOptions"] = {"type": custom.pop("displayMode")}
    return doc


def dashboard_json(data: DashboardData) -> dict[str, Any]:
    panels: list[g.Panel | dict[str, Any]] = []
    y = 0
    for row in data.rows:
        panels.append(_row(row.title, y))
        y += 1
        x, row_h = 0, 0
        for p in row.panels:
            w, h = p.width * GRID_SCALE, HEIGHT[p.kind]
            if x + w > 24:
                x, y, row_h = 0, y + row_h, 0
            panels.append(_panel(p, g.GridPos(h=h, w=w, x=x, y=y)))
            x, row_h = x + w, max(row_h, h)
        y += row_h
    dashboard = g.Dashboard(
        title=f"ION Monitoring · {data.title}",
        uid=f"ionmon-{data.name}",
        description=data.description,
        tags=["ion-monitoring", data.name],
        timezone="utc",
        refresh="1m",
        schemaVersion=GRAFANA_SCHEMA_VERSION,
        time=g.Time("now-24h", "now"),
        panels=[],
    )
    doc = modern(dashboard)
    doc["panels"] = [
        {**(p if isinstance(p, dict) else modern(p)), "id": i}
        for i, p in enumerate(panels, 1)]
    doc["templating"] = {"list": _variables()}
    doc["annotations"] = {"list": _annotations()}
    return doc


def render_grafana(data: DashboardData) -> str:
    return json.dumps(dashboard_json(data), sort_keys=True, indent=2) + "\n"
