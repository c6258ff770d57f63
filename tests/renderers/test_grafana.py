from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from dashboards.data import DashboardData
from monitoring import catalog
from monitoring.catalog import CATALOG, REGIONS, Target
from renderers.grafana import BASE_STEP, region_query, render_grafana, threshold_steps
from tests.servers import require_binary, skip_or_fail

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "grafana"
# Grafana 11.0 (the dashboard schemaVersion 39 we write) and the current one.
SCHEMA_FILES = ("dashboard.v11.0.x.jsonschema.json", "dashboard.main.jsonschema.json")
LEGACY = {"rows", "hideControls", "sharedCrosshair", "style", "span", "minSpan", "columns"}


def _cells(panel: dict) -> set[tuple[int, int]]:
    g = panel["gridPos"]
    return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}


def _walk(value: object, path: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k, v
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


@pytest.mark.parametrize("schema_file", SCHEMA_FILES)
def test_every_dashboard_validates_against_grafanas_schema(
        all_data: dict[str, DashboardData], schema_file: str) -> None:
    path = SCHEMAS / schema_file
    if not path.exists():
        skip_or_fail(f"{path} not present (../shared beside the repo)")
    schema = json.loads(path.read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert len(all_data) == 5
    for name, data in all_data.items():
        doc = json.loads(render_grafana(data))
        errors = [f"{list(e.absolute_path)}: {e.message[:200]}"
                  for e in validator.iter_errors(doc)]
        assert errors == [], f"{name} against {schema_file}: {len(errors)} errors"
        # The schema lets a panel's options be anything; no legacy keys or nulls either.
        for where, key, value in _walk(doc):
            assert key not in LEGACY, f"{name}: legacy key at {where}"
            assert value is not None, f"{name}: null at {where}"


def test_importable_model(all_data: dict[str, DashboardData]) -> None:
    uids = set()
    for name, data in all_data.items():
        text = render_grafana(data)
        doc = json.loads(text)
        assert text == json.dumps(doc, sort_keys=True, indent=2) + "\n"
        assert doc["uid"] == f"ionmon-{name}" and doc["title"].endswith(data.title)
        assert doc["schemaVersion"] == 39
        uids.add(doc["uid"])
        var = doc["templating"]["list"][0]
        assert (var["name"], var["type"]) == ("datasource", "datasource")
        assert var["query"] == "prometheus"
        ids, used = set(), set()
        for p in doc["panels"]:
            assert {"gridPos", "id", "title", "type"} <= set(p)
            assert p["gridPos"]["x"] >= 0 and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
            assert not (_cells(p) & used), f"{name}: panel {p['title']} overlaps"
            used |= _cells(p)
            ids.add(p["id"])
        assert len(ids) == len(doc["panels"])
    assert len(uids) == 5


def test_queries_come_from_the_catalog(all_data: dict[str, DashboardData]) -> None:
    by_title = {m.title: m for m in CATALOG.values()}
    doc = json.loads(render_grafana(all_data["latency"]))
    targets = [t for p in doc["panels"] for t in p.get("targets", [])]
    assert targets
    for t in targets:
        assert t["expr"] == region_query(by_title[t["legendFormat"]].promql("$__rate_interval"))
        assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_region_variable_drives_the_per_region_panels(
        all_data: dict[str, DashboardData]) -> None:
    doc = json.loads(render_grafana(all_data["overview"]))
    region = next(v for v in doc["templating"]["list"] if v["name"] == "region")
    assert region["type"] == "custom" and region["query"].split(",") == list(REGIONS)
    assert region["multi"] and region["includeAll"]
    narrowed = set()
    for p in doc["panels"]:
        for t in p.get("targets", []):
            regions = [r for r in REGIONS if f'region="{r}"' in t["expr"]]
            if len(regions) == 1 and p["title"] != "Error budgets":
                r = regions[0]
                assert f'region="{r}",region=~"$region"' in t["expr"], t["expr"]
                narrowed.add(r)
            else:
                assert "$region" not in t["expr"]
    assert narrowed == set(REGIONS)  # the per-region latency of every region
    # Narrowing adds the variable beside the region's own matcher and nothing else.
    us = CATALOG["latency_p95_us"].promql("5m")
    assert region_query(us).replace(',region=~"$region"', "") == us
    assert region_query(CATALOG["latency_p95"].promql("5m")) == CATALOG["latency_p95"].promql("5m")


def test_annotations_from_alerts_and_faults(all_data: dict[str, DashboardData]) -> None:
    for data in all_data.values():
        doc = json.loads(render_grafana(data))
        exprs = {a["name"]: a.get("expr") for a in doc["annotations"]["list"]}
        assert exprs["Alerts firing"] == 'ALERTS{alertstate="firing"}'
        assert exprs["Faults injected"] == f"{catalog.FAULT_SERIES} > 0"


def test_alert_lists_use_the_unified_alerting_options(
        all_data: dict[str, DashboardData]) -> None:
    panels = [p for d in all_data.values() for p in json.loads(render_grafana(d))["panels"]
              if p["type"] == "alertlist"]
    assert len(panels) == 2
    by_title = {p["title"]: p["options"] for p in panels}
    firing = by_title["Firing alerts"]
    assert firing["stateFilter"] == {"firing": True, "pending": True, "normal": False,
                                     "noData": False, "error": False}
    assert {"viewMode", "maxItems", "sortOrder", "groupMode"} <= set(firing)
    history = next(o for t, o in by_title.items() if t != "Firing alerts")
    assert history["stateFilter"]["normal"]  # resolved alerts are listed too
    for p in panels:
        assert not {"show", "limit", "onlyAlertsOnDashboard", "stateFilter"} & set(p)


def test_every_panel_query_is_promql_prometheus_parses(
        all_data: dict[str, DashboardData], tmp_path: Path) -> None:
    require_binary("promtool")
    exprs = {a["expr"] for d in all_data.values()
             for a in json.loads(render_grafana(d))["annotations"]["list"] if "expr" in a}
    for data in all_data.values():
        for p in json.loads(render_grafana(data))["panels"]:
            exprs |= {t["expr"] for t in p.get("targets", [])}
    # Grafana's variables as Grafana substitutes them.
    rules = [{"record": f"panel:query:{i}",
              "expr": e.replace("$__rate_interval", "5m").replace("$region", "us|eu")}
             for i, e in enumerate(sorted(exprs))]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_thresholds_follow_targets(all_data: dict[str, DashboardData]) -> None:
    doc = json.loads(render_grafana(all_data["overview"]))
    stat = next(p for p in doc["panels"] if p["title"] == "Availability" and p["type"] == "stat")
    steps = stat["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "red", "value": BASE_STEP}, {"color": "green", "value": 99.95}]
    assert threshold_steps(Target("<", 50)) == [{"color": "green", "value": BASE_STEP},
                                               {"color": "red", "value": 50}]
    region = next(p for p in doc["panels"] if p["title"] == "Latency p95 by region")
    assert region["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    overrides = region["fieldConfig"]["overrides"]
    assert [o["matcher"]["options"]["names"] for o in overrides] == [["Latency p95 ASIA"]]
