"""Markers: alert episodes paired from the history, faults naming the charts they concern."""

from __future__ import annotations

import pytest

from dashboards.markers import (
    Marker,
    alert_episodes,
    evidence_panel,
    fault_concerns,
    fault_markers,
    panel_anchor,
)
from monitoring.groundtruth import FaultRecord


def _row(rule: str, at: float, new: str, metric: str | None = None) -> dict:
    return {"rule": rule, "at": at, "old": "", "new": new, "value": None, "metric": metric}


def test_episodes_pair_firing_with_the_next_resolution_in_any_order():
    history = [  # newest first, as AlertStore.history returns it
        _row("slow_db_queries", 900.0, "firing", "db_query_p95"),
        _row("high_error_rate", 700.0, "resolved"),
        _row("high_error_rate", 650.0, "firing"),  # already open: not a new episode
        _row("high_error_rate", 600.0, "pending"),
        _row("high_error_rate", 500.0, "firing", "error_rate"),
        _row("high_error_rate", 100.0, "resolved"),  # resolves nothing seen
    ]
    eps = alert_episodes(history, 0.0, 1000.0)
    assert [(m.name, m.start, m.end, m.metrics) for m in eps] == [
        ("high_error_rate", 500.0, 700.0, ("error_rate",)),
        ("slow_db_queries", 900.0, None, ("db_query_p95",)),
    ]
    assert eps[1].until(1000.0) == 1000.0
    # Only the episodes overlapping the range.
    assert [m.name for m in alert_episodes(history, 750.0, 800.0)] == []
    assert [m.name for m in alert_episodes(history, 650.0, 660.0)] == ["high_error_rate"]


def test_an_episode_without_a_metric_concerns_all_the_rules_metrics():
    (ep,) = alert_episodes([_row("slow_db_queries", 10.0, "firing")], 0.0, 20.0)
    # Each region's p95 shows on the chart of the total.
    assert ep.metrics == ("db_query_p95",)


def test_faults_concern_what_they_move_and_what_should_catch_them():
    assert fault_concerns(FaultRecord("index_dropped", "us", 0, 60)) == (
        "db_query_p95", "db_slow_queries")
    assert set(fault_concerns(FaultRecord("network_delay", "asia", 0, 60))) == {
        "latency_p95", "latency_p95_asia"}
    assert "request_rate" in fault_concerns(FaultRecord("traffic_surge", "all", 0, 60))
    (m,) = fault_markers([FaultRecord("replica_lag", "eu", 10, 70)])
    assert (m.kind, m.label, m.metrics) == ("fault", "fault replica_lag (eu)",
                                             ("replication_lag_eu",))


def test_region_series_are_shaded_on_their_totals_chart():
    # The rules watch each region's series; the dashboards chart the totals.
    assert fault_concerns(FaultRecord("index_dropped", "asia", 0, 60)) == (
        "db_query_p95", "db_slow_queries")
    (ep,) = alert_episodes([_row("traffic_anomaly", 10.0, "firing", "requests_eu")], 0.0, 20.0)
    assert ep.metrics == ("request_rate",)
    assert evidence_panel("cpu_usage_asia") == evidence_panel("cpu_usage") is not None
    assert evidence_panel("db_query_p95_us") == evidence_panel("db_query_p95")


def test_a_marker_ending_before_it_starts_is_refused():
    with pytest.raises(ValueError, match=r"end 5\.0 before start 10\.0"):
        Marker("fault", "l1_flush", "us", 10.0, 5.0, ())


def test_evidence_is_the_first_chart_of_the_metric():
    assert evidence_panel("db_query_p95") == ("database", "panel-query-p95")
    assert evidence_panel(None) is None
    assert panel_anchor("Latency p95 by region") == "panel-latency-p95-by-region"
