from __future__ import annotations

import json
import math

from dashboards.data import DashboardData, build_dashboard_data
from dashboards.definitions import DASHBOARDS
from renderers.json import SCHEMA_VERSION, render_json

TOP_KEYS = {"alerts", "budgets", "dashboard", "generated_at", "range", "rows", "schema_version",
            "status"}
PANEL_KEYS = {"alerts", "budgets", "description", "kind", "metrics", "status", "title", "width"}
METRIC_KEYS = {"current", "description", "good", "id", "series", "stats", "status", "threshold",
               "title", "unit"}
STATS_KEYS = {"max", "mean", "met_ratio", "min", "p95", "samples"}


def test_schema_keys(all_data: dict[str, DashboardData]) -> None:
    for data in all_data.values():
        doc = json.loads(render_json(data))
        assert set(doc) == TOP_KEYS
        assert doc["schema_version"] == SCHEMA_VERSION == 2
        assert set(doc["range"]) == {"end", "end_ts", "start", "start_ts", "step_s"}
        for row in doc["rows"]:
            for panel in row["panels"]:
                assert set(panel) == PANEL_KEYS
                for m in panel["metrics"]:
                    assert set(m) == METRIC_KEYS
                    assert set(m["stats"]) == STATS_KEYS
                    assert m["current"]["unit"] == m["unit"] == m["stats"]["p95"]["unit"]
                    assert isinstance(m["current"]["value"], float)
                    assert len(m["series"]["ts"]) == len(m["series"]["values"]) <= 240


def test_sorted_keys_and_stable(all_data: dict[str, DashboardData]) -> None:
    text = render_json(all_data["overview"])
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2,
                              ensure_ascii=False) + "\n"
    assert text == render_json(all_data["overview"])


def test_missing_values_are_null_not_nan() -> None:
    data = build_dashboard_data(DASHBOARDS["cache"], {}, 0, 3600, step=60)
    doc = json.loads(render_json(data))  # allow_nan=False would have raised on NaN
    m = doc["rows"][0]["panels"][0]["metrics"][0]
    assert m["current"]["value"] is None and m["status"] == "nodata"
    assert all(v is None or not math.isnan(v) for v in m["series"]["values"])


def test_threshold_has_op_value_unit(all_data: dict[str, DashboardData]) -> None:
    doc = json.loads(render_json(all_data["latency"], with_series=False))
    m = doc["rows"][0]["panels"][1]["metrics"][0]
    assert m["id"] == "latency_p95"
    assert m["threshold"] == {"op": "<", "unit": "ms", "value": 50}
    assert "series" not in m
