from __future__ import annotations

import json

from dashboards.data import DashboardData
from monitoring.catalog import CATALOG, Target
from renderers.grafana import render_grafana, threshold_steps


def _cells(panel: dict) -> set[tuple[int, int]]:
    g = panel["gridPos"]
    return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}


def test_importable_model(all_data: dict[str, DashboardData]) -> None:
    uids = set()
    for name, data in all_data.items():
        text = render_grafana(data)
        doc = json.loads(text)
        assert text == json.dumps(doc, sort_keys=True, indent=2) + "\n"
        assert doc["uid"] == f"ionmon-{name}" and doc["title"].endswith(data.title)
        assert doc["schemaVersion"] >= 36
        uids.add(doc["uid"])
        assert doc["__inputs"][0]["name"] == "DS_PROMETHEUS"
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
        assert t["expr"] == by_title[t["legendFormat"]].promql("$__rate_interval")
        assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_thresholds_follow_targets(all_data: dict[str, DashboardData]) -> None:
    doc = json.loads(render_grafana(all_data["overview"]))
    stat = next(p for p in doc["panels"] if p["title"] == "Availability" and p["type"] == "stat")
    steps = stat["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "red", "value": None}, {"color": "green", "value": 99.95}]
    assert threshold_steps(Target("<", 50)) == [{"color": "green", "value": None},
                                               {"color": "red", "value": 50}]
    region = next(p for p in doc["panels"] if p["title"] == "Latency p95 by region")
    assert region["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    overrides = region["fieldConfig"]["overrides"]
    assert [o["matcher"]["options"] for o in overrides] == ["Latency p95 ASIA"]
