"""Dashboards show the evaluator's alerts and the tuner's thresholds."""

from alerts.evaluator import AlertState, Transition
from alerts.state import AlertStore
from dashboards.loader import alert_views, tuned_thresholds
from monitoring.app.config import parse_config


def _config(tmp_path):
    return parse_config({"alerts": {"state_path": str(tmp_path / "alerts.db"),
                                    "rules_path": str(tmp_path / "rules.yaml")}})


def test_no_files_means_no_alerts_and_catalog_targets(tmp_path):
    config = _config(tmp_path)
    assert alert_views(config.alerting, 0, 1e10) == []
    assert tuned_thresholds(config.alerting) == {}


def test_firing_alert_and_tuned_threshold_reach_the_dashboard(tmp_path):
    config = _config(tmp_path)
    store = AlertStore(config.alerts.state_path)
    state = AlertState("region_or_l2_down", "firing", active_since=100, fired_at=160,
                       metric="regions_up", severity="critical", summary="down")
    store.save({state.rule: state}, [
        Transition("region_or_l2_down", 100, "inactive", "pending", state),
        Transition("region_or_l2_down", 160, "pending", "firing", state),
    ])
    store.close()
    views = alert_views(config.alerting, 0, 1000)
    assert [(v.name, v.state, v.since) for v in views] == [("region_or_l2_down", "firing", 160)]
    assert alert_views(config.alerting, 200, 1000) == []  # outside the range
    (tmp_path / "rules.yaml").write_text("not: [valid")
    assert tuned_thresholds(config.alerting) == {}  # a bad rules file falls back to the catalog
