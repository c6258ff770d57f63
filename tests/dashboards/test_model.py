from __future__ import annotations

import dataclasses

import pytest

from dashboards.definitions import DASHBOARDS, get_dashboard
from dashboards.model import Dashboard, DashboardError, Panel, Row
from monitoring.catalog import CATALOG, Target


def test_five_dashboards_cover_every_catalog_metric() -> None:
    assert list(DASHBOARDS) == ["overview", "latency", "cache", "database", "infrastructure"]
    shown = {m for d in DASHBOARDS.values() for m in d.metric_ids}
    assert shown == set(CATALOG)


def test_rows_fit_the_grid() -> None:
    for d in DASHBOARDS.values():
        for row in d.rows:
            assert sum(p.width for p in row.panels) <= 12, (d.name, row.title)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": "x", "kind": "stat", "metrics": ("latency_p95", "nope")}, "unknown metric id"),
        ({"title": "x", "kind": "stat", "metrics": ("latency_p50", "latency_p95")}, "exactly one"),
        ({"title": "x", "kind": "timeseries", "metrics": ()}, "needs metrics"),
        ({"title": "x", "kind": "pie", "metrics": ("latency_p95",)}, "unknown kind"),
        ({"title": "x", "kind": "alerts", "metrics": ("latency_p95",),
          "alert_states": ("firing",)}, "takes no metrics"),
        ({"title": "x", "kind": "alerts", "alert_states": ("burning",)}, "alert_states"),
        ({"title": "x", "kind": "stat", "metrics": ("latency_p95",), "width": 13}, "width"),
        ({"title": " ", "kind": "stat", "metrics": ("latency_p95",)}, "title"),
        ({"title": "x", "kind": "table", "metrics": ("error_rate", "error_rate")}, "twice"),
    ],
)
def test_bad_panels_fail_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(DashboardError, match=message):
        Panel(**kwargs)


def test_bad_rows_and_dashboards_fail() -> None:
    p = Panel("A", "stat", ("latency_p95",))
    with pytest.raises(DashboardError, match="no panels"):
        Row("r", ())
    with pytest.raises(DashboardError, match="share a title"):
        Row("r", (p, p))
    with pytest.raises(DashboardError, match="no rows"):
        Dashboard("d", "D", "", ())
    with pytest.raises(DashboardError, match="alphanumeric"):
        Dashboard("bad name/..", "D", "", (Row("r", (p,)),))


def test_replace_revalidates() -> None:
    p = Panel("A", "stat", ("latency_p95",))
    with pytest.raises(DashboardError, match="unknown metric"):
        dataclasses.replace(p, metrics=("latency_p95x",))


def test_thresholds_default_to_catalog_and_accept_overrides() -> None:
    p = Panel("Lat", "timeseries", ("latency_p95", "request_rate"))
    assert p.thresholds() == {"latency_p95": Target("<", 50), "request_rate": None}
    tuned = {"latency_p95": Target("<", 42.5)}
    assert p.thresholds(tuned)["latency_p95"] == Target("<", 42.5)


def test_unknown_dashboard_names_the_known_ones() -> None:
    with pytest.raises(DashboardError, match="overview, latency"):
        get_dashboard("nope")
