import dataclasses
import json
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from alerts.export import alertmanager_config, prometheus_rules
from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Notification
from alerts.rules import RULE_SPECS, Bound, Rule
from alerts.tuner import tune
from tests.alerts.synth import week
from tests.servers import AlertmanagerServer, PrometheusServer, free_port, require_binary


@pytest.fixture(scope="module")
def rules():
    ts, v, faults = week()
    return [p.rule for p in tune(RULE_SPECS, ts, v, faults)]


def test_promtool_accepts_the_exported_rules(tmp_path, rules):
    promtool = require_binary("promtool")
    path = tmp_path / "rules.yml"
    path.write_text(prometheus_rules(rules))
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 10 rules found" in out.stdout  # 9 tuned and region_down


def test_amtool_accepts_the_exported_config(tmp_path):
    amtool = require_binary("amtool")
    path = tmp_path / "am.yml"
    path.write_text(alertmanager_config("http://127.0.0.1:9/hook"))
    out = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _exposition_server(text: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_prometheus_evaluates_the_exported_rules(tmp_path, rules):
    require_binary("prometheus")
    target = _exposition_server("ion_cache_items{tier=\"l1\"} 1\n")
    # One region answering of three: regions_up is 1, so region_or_l2_down must fire.
    rules = [dataclasses.replace(r, for_s=0) for r in rules]
    rules_path = tmp_path / "ionmon.rules.yml"
    rules_path.write_text(prometheus_rules(rules))
    config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{rules_path}"]
scrape_configs:
  - job_name: engine
    static_configs:
      - targets: ["127.0.0.1:{target.server_port}"]
        labels: {{target: us}}
"""
    try:
        with PrometheusServer(config) as prom:
            deadline = time.time() + 20
            firing: set[str] = set()
            while time.time() < deadline:
                groups = _get(f"{prom.url}/api/v1/rules")["data"]["groups"]
                loaded = [r for g in groups for r in g["rules"]]
                firing = {r["name"] for r in loaded if r["state"] == "firing"}
                if "region_or_l2_down" in firing:
                    break
                time.sleep(0.5)
    finally:
        target.shutdown()
    assert len(loaded) == 10 and all(r["health"] == "ok" for r in loaded), loaded
    assert "region_or_l2_down" in firing


def test_alertmanager_receives_our_alerts(tmp_path):
    require_binary("prometheus-alertmanager")
    with AlertmanagerServer(alertmanager_config("http://127.0.0.1:9/hook")) as am:
        note = Notification("low_availability", "firing", "critical", "availability low",
                            at=time.time(), active_since=time.time() - 120,
                            metric="availability", value=94.0)
        assert AlertmanagerNotifier(am.url).send([note]).ok
        alerts = _get(f"{am.url}/api/v2/alerts")
    names = {a["labels"]["alertname"]: a for a in alerts}
    assert names["low_availability"]["labels"]["severity"] == "critical"
    assert names["low_availability"]["annotations"]["value"] == "94"


def test_promtool_accepts_weekday_and_weekend_hours(tmp_path):
    promtool = require_binary("promtool")
    b = Bound("request_rate", ">", hourly=tuple(float(h) for h in range(24)),
              weekend=tuple(100.0 + h for h in range(24)))
    path = tmp_path / "rules.yml"
    path.write_text(prometheus_rules([Rule("traffic_anomaly", (b,), 600, "info", "s", "rb")]))
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "day_of_week() > 0 < 6" in path.read_text()


def test_prometheus_reads_a_bounds_weekend_on_its_own_clock(tmp_path):
    """promtool's rule tests evaluate the export as Prometheus does: a bound whose
    weekend is on UTC+8 pages at Friday 20:00 UTC (Saturday 04:00 there), and the same
    bound on UTC does not."""
    promtool = require_binary("promtool")
    never, always = (1e9,) * 24, (-1.0,) * 24  # weekday hours never breach, weekend ones do
    for offset, fires in ((8, True), (0, False)):
        b = Bound("requests_eu", ">", hourly=never, weekend=always, weekend_offset_h=offset)
        text = prometheus_rules([Rule("traffic_anomaly", (b,), 600, "info", "s", "rb")])
        (tmp_path / "rules.yml").write_text(text)
        exported = yaml.safe_load(text)["groups"][0]["rules"][0]
        friday_20h = "44h"  # 1970-01-01 was a Thursday
        exp = ([{"exp_labels": {"severity": "info"},
                 "exp_annotations": exported["annotations"]}] if fires else [])
        test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
            "interval": "1m",
            "input_series": [{"series": 'ion_http_requests_total{region="eu"}',
                              "values": "0+60x3000"}],
            "alert_rule_test": [{"eval_time": friday_20h, "alertname": "traffic_anomaly",
                                 "exp_alerts": exp}]}]}
        (tmp_path / "test.yml").write_text(json.dumps(test))
        out = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path,
                             capture_output=True, text=True)
        assert out.returncode == 0, (offset, out.stdout + out.stderr)
