"""Alertmanager as a team runs it beside Prometheus: one alert whichever side sends it,
inhibit rules that mute real alerts, and configs the tools accept.

Every test talks to a real Alertmanager (and Prometheus, amtool, promtool) on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from alerts.cycle import rule_labels
from alerts.evaluator import AlertState, Transition
from alerts.export import REGION_DOWN, alertmanager_config, prometheus_rules, region_down_rule
from alerts.notify.alertmanager import AlertmanagerNotifier, alert_labels, to_alertmanager
from alerts.notify.dispatch import notifications
from alerts.rules import Bound, Rule, rules_to_yaml
from alerts.runbooks import runbooks_markdown
from alerts.slo import default_slos
from alerts.slo_export import slo_rules_yaml
from alerts.slo_rules import slo_rules
from monitoring.app.config import parse_config
from monitoring.app.live.routes import make_router
from monitoring.app.live.server import serve_http
from monitoring.app.promconfig import prometheus_yml
from monitoring.app.scheduler import JobStateDB
from monitoring.clock import WallClock
from tests.collectors.loopback import payload_server
from tests.servers import AlertmanagerServer, PrometheusServer, http_request, require_binary

ROOT = Path(__file__).resolve().parents[2]
DEAD_HOOK = "http://127.0.0.1:9/hook"  # nobody listens: these tests read Alertmanager's API
SLO_RULES = slo_rules(default_slos())
LABELS = rule_labels(SLO_RULES)


def _get(url: str) -> list | dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _notes(*rules: str) -> list:
    """Firing notifications of these rules as the evaluator builds them."""
    now = time.time()
    changes = []
    for rule in rules:
        severity = LABELS.get(rule, {}).get("severity", "critical")
        state = AlertState(rule, "firing", active_since=now - 120, fired_at=now,
                           severity=severity, summary=rule)
        changes.append(Transition(rule, now, "pending", "firing", state))
    return notifications(changes, labels=LABELS)


@pytest.fixture
def alertmanager() -> Iterator[AlertmanagerServer]:
    require_binary("prometheus-alertmanager")
    with AlertmanagerServer(alertmanager_config(DEAD_HOOK)) as am:
        yield am


def _by_labels(am: AlertmanagerServer) -> dict[tuple, dict]:
    alerts = _get(f"{am.url}/api/v2/alerts")
    return {tuple(sorted(a["labels"].items())): a for a in alerts}  # type: ignore[union-attr]


def test_evaluator_and_exported_slo_rules_give_the_same_labels() -> None:
    exported = {r["alert"]: r["labels"] for g in yaml.safe_load(
        slo_rules_yaml(default_slos()))["groups"] for r in g["rules"] if "alert" in r}
    notes = _notes(*exported)
    assert len(notes) == len(exported) == 2 * len(default_slos())
    for n in notes:
        assert alert_labels(n) == {"alertname": n.rule, **exported[n.rule]}, n.rule
        assert to_alertmanager(n)["annotations"]["runbook_url"].startswith("http://")
    assert {n.rule: n.labels.get("region") for n in notes}["slo_latency_eu_page"] == "eu"


def _sent_by_prometheus(prom: PrometheusServer) -> float:
    with urllib.request.urlopen(f"{prom.url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("prometheus_notifications_sent_total"))


def test_one_alert_when_the_evaluator_and_prometheus_both_send_it(
        alertmanager: AlertmanagerServer, tmp_path: Path) -> None:
    require_binary("prometheus")
    # One region of three answers: regions_up is 1, so region_or_l2_down fires in both.
    rule = Rule("region_or_l2_down", (Bound("regions_up", "<", 3.0),), 0.0, "critical",
                "A region or the shared L2 cache is down", "fail over")
    rules_path = tmp_path / "ionmon.rules.yml"
    rules_path.write_text(prometheus_rules([rule]))
    with payload_server() as region:
        region.serve(b'ion_cache_items{tier="l1"} 1\n', "text/plain; version=0.0.4")
        config = prometheus_yml({"us": region.url}, rules_files=[str(rules_path)],
                                scrape_interval_s=1, evaluation_interval_s=1,
                                alertmanager_url=alertmanager.url)
        with PrometheusServer(config) as prom:
            [note] = notifications([Transition(
                rule.id, time.time(), "pending", "firing",
                AlertState(rule.id, "firing", active_since=time.time(), fired_at=time.time(),
                           severity=rule.severity, summary=rule.summary))],
                labels=rule_labels([rule]))
            assert AlertmanagerNotifier(alertmanager.url).send([note]).ok
            _wait(lambda: _sent_by_prometheus(prom) > 0, "Prometheus to send its alert")
            alerts = [a for a in _by_labels(alertmanager).values()
                      if a["labels"]["alertname"] == rule.id]
    assert len(alerts) == 1, alerts
    # The one alert is both: Prometheus's copy, merged into the evaluator's, set the
    # link back to its expression; the annotations of the last sender win.
    assert "/graph?g0.expr=" in alerts[0]["generatorURL"]
    assert alerts[0]["labels"] == {"alertname": rule.id, "severity": "critical"}


def _state(am: AlertmanagerServer, alertname: str, **labels: str) -> dict:
    for a in _by_labels(am).values():
        if a["labels"]["alertname"] == alertname and all(
                a["labels"].get(k) == v for k, v in labels.items()):
            return a["status"]
    raise AssertionError(f"{alertname} {labels} not in Alertmanager")


def test_a_page_inhibits_its_ticket_for_the_same_slo(alertmanager: AlertmanagerServer) -> None:
    notes = _notes("slo_availability_page", "slo_availability_ticket", "slo_cache_ticket")
    assert AlertmanagerNotifier(alertmanager.url).send(notes).ok
    page = _state(alertmanager, "slo_availability_page")
    ticket = _state(alertmanager, "slo_availability_ticket")
    other = _state(alertmanager, "slo_cache_ticket")
    assert ticket["state"] == "suppressed" and ticket["inhibitedBy"], ticket
    assert page["state"] == "active" and not page["inhibitedBy"]
    assert other["state"] == "active" and not other["inhibitedBy"]  # another SLO's ticket


def test_a_region_down_inhibits_that_regions_alerts(alertmanager: AlertmanagerServer) -> None:
    # region_down as Prometheus sends it: the rule's labels and the expression's, region
    # among them (label_replace of the target).
    down = {"labels": {"alertname": REGION_DOWN, **region_down_rule()["labels"],
                       "region": "us", "target": "us", "job": "ion",
                       "instance": "127.0.0.1:9101"},
            "annotations": {"summary": "Region us is down"}}
    req = urllib.request.Request(f"{alertmanager.url}/api/v2/alerts",
                                 data=json.dumps([down]).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
    notes = _notes("slo_latency_us_page", "slo_latency_eu_page", "slo_availability_page")
    assert AlertmanagerNotifier(alertmanager.url).send(notes).ok
    us = _state(alertmanager, "slo_latency_us_page")
    assert us["state"] == "suppressed" and us["inhibitedBy"], us
    for name in ("slo_latency_eu_page", "slo_availability_page"):  # another region; no region
        status = _state(alertmanager, name)
        assert status["state"] == "active" and not status["inhibitedBy"], (name, status)
    assert _state(alertmanager, REGION_DOWN)["state"] == "active"


def _ionmon(config: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "monitoring", "--config", str(config), *args],
                         capture_output=True, text=True, env=env, cwd=config.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_the_tools_accept_what_the_commands_write(tmp_path: Path) -> None:
    amtool, promtool = require_binary("amtool"), require_binary("promtool")
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_to_yaml([Rule("region_or_l2_down", (Bound("regions_up", "<", 3.0),),
                                         60.0, "critical", "down", "fail over")]))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "ionmon.db")},
        "alerts": {"rules_path": str(rules), "state_path": str(tmp_path / "alerts.db"),
                   "channels": {"alertmanager": {"url": "http://127.0.0.1:9093"}}},
        "serve": {"host": "127.0.0.1", "port": 8123}}))
    _ionmon(config, "export", "alertmanager", "--webhook-url", DEAD_HOOK,
            "--out", str(tmp_path / "alertmanager.yml"))
    _ionmon(config, "export", "prometheus", "--out", str(tmp_path / "ionmon.rules.yml"))
    _ionmon(config, "export", "slo", "--out", str(tmp_path / "ionmon-slo.rules.yml"))
    _ionmon(config, "prometheus-config", "--target", "edge=http://127.0.0.1:9100",
            "--target", "us=http://127.0.0.1:9101", "--target", "eu=http://127.0.0.1:9102",
            "--target", "asia=http://127.0.0.1:9103", "--rules", "ionmon.rules.yml",
            "--rules", "ionmon-slo.rules.yml", "--out", str(tmp_path / "prometheus.yml"))
    prom = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    assert prom["alerting"] == {"alertmanagers": [
        {"scheme": "http", "static_configs": [{"targets": ["127.0.0.1:9093"]}]}]}
    assert prom["rule_files"] == ["ionmon.rules.yml", "ionmon-slo.rules.yml"]
    for cmd in ([amtool, "check-config", "alertmanager.yml"],
                [promtool, "check", "config", "prometheus.yml"]):  # also checks rule_files
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
    exported = yaml.safe_load((tmp_path / "ionmon.rules.yml").read_text())
    rule = exported["groups"][0]["rules"][0]
    assert rule["annotations"]["runbook_url"] == \
        "http://127.0.0.1:8123/docs/runbooks.md#region-or-l2-down"


def test_the_runbook_link_opens_the_runbooks_page(tmp_path: Path) -> None:
    config = parse_config({"alerts": {"state_path": str(tmp_path / "alerts.db")}})
    state = JobStateDB(tmp_path / "sched.db")
    route = make_router(config, None, state, CollectorRegistry(), WallClock())  # type: ignore[arg-type]
    httpd = serve_http(route, 0)
    try:
        [note] = _notes("slo_availability_page")
        url = urllib.parse.urlsplit(note.runbook_url)
        assert (url.scheme, url.fragment) == ("http", "slo-availability")
        status, body = http_request(httpd.server_port, "GET", url.path)
    finally:
        httpd.shutdown()
        state.close()
    assert status == 200 and body == runbooks_markdown()
    assert "## slo-availability" in body
