"""Dashboard data as JSON for other programs; the schema is in JSON_SCHEMA.md.

Keys are sorted and the layout fixed so two renders of the same data diff cleanly.
Bump SCHEMA_VERSION on any change a consumer could notice (renamed or removed keys).
"""

from __future__ import annotations

import json
import math
from typing import Any

from dashboards.alertview import AlertView
from dashboards.data import BudgetView, DashboardData, MetricData, PanelData
from renderers.fmt import fmt_iso

# 2 added error budgets and alert silences/runbooks; nothing of 1 was renamed or removed.
SCHEMA_VERSION = 2


def _num(v: float | None) -> float | None:
    # JSON has no NaN: a missing value is null.
    return None if v is None or math.isnan(v) else round(float(v), 6)


def _quantity(v: float | None, unit: str) -> dict[str, Any]:
    return {"unit": unit, "value": _num(v)}


def _alert(a: AlertView) -> dict[str, Any]:
    return {"metric": a.metric, "name": a.name, "runbook_url": a.runbook_url,
            "severity": a.severity, "silenced": a.silenced, "since": fmt_iso(a.since),
            "since_ts": a.since, "state": a.state, "summary": a.summary}


def _budget(v: BudgetView) -> dict[str, Any]:
    b = v.budget
    return {
        "at": fmt_iso(b.at), "at_ts": b.at,
        # Keys are window lengths in seconds, as strings: JSON keys must be.
        "burn_rates": {str(int(w)): _num(r) for w, r in b.burn},
        "coverage": _num(b.coverage),
        "exhaustion_s": _num(b.exhaustion_s),
        "objective": b.objective,
        "remaining": _num(b.remaining),
        "runbook_url": v.runbook_url,
        "sli": _num(b.sli),
        "slo": b.slo,
        "spent": _num(b.spent),
        "status": v.status,
        "title": b.title,
        "window_s": b.window_s,
    }


def _metric(m: MetricData, with_series: bool) -> dict[str, Any]:
    s = m.stats
    out: dict[str, Any] = {
        "current": {**_quantity(s.current, m.unit), "ts": s.current_ts},
        "description": m.description,
        "good": m.good,
        "id": m.id,
        "stats": {
            "max": _quantity(s.max, m.unit),
            "mean": _quantity(s.mean, m.unit),
            "met_ratio": _num(s.met_ratio),
            "min": _quantity(s.min, m.unit),
            "p95": _quantity(s.p95, m.unit),
            "samples": s.samples,
        },
        "status": m.status,
        "threshold": None if m.threshold is None else {
            "op": m.threshold.op, "unit": m.unit, "value": m.threshold.value},
        "title": m.title,
        "unit": m.unit,
    }
    if with_series:
        out["series"] = {"ts": [float(t) for t in m.ts], "values": [_num(v) for v in m.values]}
    return out


def _panel(p: PanelData, with_series: bool) -> dict[str, Any]:
    return {
        "alerts": [_alert(a) for a in p.alerts],
        "budgets": [_budget(b) for b in p.budgets],
        "description": p.description,
        "kind": p.kind,
        "metrics": [_metric(m, with_series) for m in p.metrics],
        "status": p.status,
        "title": p.title,
        "width": p.width,
    }


def to_dict(data: DashboardData, with_series: bool = True) -> dict[str, Any]:
    return {
        "alerts": [_alert(a) for a in data.alerts],
        "budgets": [_budget(b) for b in data.budgets],
        "dashboard": {"description": data.description, "name": data.name, "title": data.title},
        "generated_at": fmt_iso(data.generated_at),
        "range": {"end": fmt_iso(data.end), "end_ts": data.end, "start": fmt_iso(data.start),
                  "start_ts": data.start, "step_s": data.step},
        "rows": [{"panels": [_panel(p, with_series) for p in r.panels], "title": r.title}
                 for r in data.rows],
        "schema_version": SCHEMA_VERSION,
        "status": data.status,
    }


def render_json(data: DashboardData, with_series: bool = True) -> str:
    return json.dumps(to_dict(data, with_series), sort_keys=True, indent=2,
                      ensure_ascii=False, allow_nan=False) + "\n"
