"""The exported SLO rules under ``promtool check rules`` and ``promtool test rules``.

Edge request counters step from clean to a constant error ratio at ``T0``. Each case's
check times sit a minute or two either side of where the workbook's maths puts the
alert, so a wrong factor or window moves the alert across a check and fails the test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from alerts.slo import default_slos
from alerts.slo_export import ratio_name, slo_rules_yaml, windows
from tests.servers import require_binary

PER_MIN = 10_000  # edge requests per minute
AVAILABILITY = next(s for s in default_slos() if s.name == "availability")
BUDGET = AVAILABILITY.budget  # 0.0005


def _series(minutes: int, t0: int, errors_per_min: int, stop: int | None = None
            ) -> list[dict]:
    """Counter values at minutes 0..minutes: ``errors_per_min`` 5xx from t0 (to stop)."""
    ok, bad, ok_vals, bad_vals = 0, 0, [], []
    for minute in range(minutes + 1):
        failing = minute > t0 and (stop is None or minute <= stop)
        e = errors_per_min if failing else 0
        if minute:
            ok += PER_MIN - e
            bad += e
        ok_vals.append(str(ok))
        bad_vals.append(str(bad))
    return [{"series": 'ion_edge_requests_total{code="200"}', "values": " ".join(ok_vals)},
            {"series": 'ion_edge_requests_total{code="500"}', "values": " ".join(bad_vals)}]


def _alert(name: str, policy: str, severity: str) -> dict:
    return {"exp_labels": {"severity": severity, "slo": "availability", "policy": policy},
            "exp_annotations": None}


def _case(minutes: int, t0: int, errors: int, checks: dict[str, tuple[int, bool]],
          stop: int | None = None, exprs: list | None = None) -> dict:
    tests = []
    for name, (at, firing) in checks.items():
        alertname, policy = name.rsplit("@", 1)[0], name.rsplit("_", 1)[1].split("@")[0]
        severity = "critical" if policy == "page" else "warning"
        tests.append({"eval_time": f"{at}m", "alertname": alertname,
                      "exp_alerts": [_alert(alertname, policy, severity)] if firing else []})
    return {"interval": "1m", "input_series": _series(minutes, t0, errors, stop),
            "alert_rule_test": tests, "promql_expr_test": exprs or []}


def _with_annotations(rules_text: str, case: dict) -> dict:
    # promtool compares annotations exactly: copy them from the rules under test.
    rules = {r["alert"]: r for g in yaml.safe_load(rules_text)["groups"] for r in g["rules"]
             if "alert" in r}
    for t in case["alert_rule_test"]:
        for a in t["exp_alerts"]:
            a["exp_annotations"] = rules[t["alertname"]]["annotations"]
    return case


def _run(tmp_path: Path, cases: list[dict]) -> subprocess.CompletedProcess:
    promtool = require_binary("promtool")
    text = slo_rules_yaml([AVAILABILITY])
    (tmp_path / "slo.rules.yml").write_text(text)
    doc = {"rule_files": ["slo.rules.yml"], "evaluation_interval": "1m",
           "tests": [_with_annotations(text, c) for c in cases]}
    (tmp_path / "slo.test.yml").write_text(yaml.safe_dump(doc, sort_keys=False, width=10**9))
    return subprocess.run([promtool, "test", "rules", "slo.test.yml"], cwd=tmp_path,
                          capture_output=True, text=True)


def test_promtool_checks_the_slo_rules(tmp_path):
    promtool = require_binary("promtool")
    path = tmp_path / "slo.rules.yml"
    path.write_text(slo_rules_yaml(default_slos()))
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _errors_for(burn: float) -> int:
    e = burn * BUDGET * PER_MIN
    assert e == int(e)
    return int(e)


def test_page_fast_window_factor_and_short_window(tmp_path):
    # Burn 28.8: the 1h window passes 14.4x at half full, 30 min after T0; the 6h&30m
    # condition would need 75 min. Errors stop at T0+60: the 5m window clears in 2.5 min.
    t0 = 360
    case = _case(t0 + 120, t0, _errors_for(28.8), {
        "slo_availability_page@before": (t0 + 29, False),
        "slo_availability_page@after": (t0 + 31, True),
        "slo_availability_page@still": (t0 + 62, True),
        "slo_availability_page@cleared": (t0 + 64, False),
    }, stop=t0 + 60)
    out = _run(tmp_path, [case])
    assert out.returncode == 0, out.stdout + out.stderr


def test_page_slow_window(tmp_path):
    # Burn 12: never 14.4x; the 6h window passes 6x at half full, 180 min after T0.
    t0 = 360
    case = _case(t0 + 190, t0, _errors_for(12), {
        "slo_availability_page@before": (t0 + 177, False),
        "slo_availability_page@after": (t0 + 183, True),
    })
    out = _run(tmp_path, [case])
    assert out.returncode == 0, out.stdout + out.stderr


def test_ticket_conditions_and_recorded_windows(tmp_path):
    # Burn 5.4: the 1d window passes 3x (and the 3d one 1x) 13 h 20 min after T0; never
    # a page (under 6x).
    t0 = 3 * 1440 - 800  # the 3d window is full by the time either check runs
    exprs = []
    at = t0 + 90
    for w in windows():
        minutes = w // 60
        span = min(minutes, at)  # samples in [at - w, at] that exist
        ratio = _errors_for(5.4) * min(90, span) / (PER_MIN * span)
        # promtool compares exactly: compare parts per billion.
        exprs.append({"expr": f'round({ratio_name(w)}{{slo="availability"}} * 1e9)',
                      "eval_time": f"{at}m",
                      "exp_samples": [{"labels": '{slo="availability"}',
                                       "value": round(ratio * 1e9)}]})
    case = _case(t0 + 806, t0, _errors_for(5.4), {
        "slo_availability_ticket@before": (t0 + 795, False),
        "slo_availability_ticket@after": (t0 + 805, True),
        "slo_availability_page@never": (t0 + 805, False),
    }, exprs=exprs)
    out = _run(tmp_path, [case])
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("burn, before, after", [(2, 2150, 2170)])
def test_ticket_slow_window(tmp_path, burn, before, after):
    # Burn 2: never 3x; the 3d window passes 1x at half full, 36 h after T0.
    t0 = 2160
    case = _case(t0 + after + 1, t0, _errors_for(burn), {
        "slo_availability_ticket@before": (t0 + before, False),
        "slo_availability_ticket@after": (t0 + after, True),
    })
    out = _run(tmp_path, [case])
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_young_series_is_not_read_as_a_long_burn(tmp_path):
    # Burn 5.4 from the first minute of data: the 1d and 2h windows both read 5.4x at
    # once, but the 1d window holds under half its minutes until minute 720, so the
    # ticket waits for it, as the embedded burn rates' coverage guard does.
    case = _case(730, 0, _errors_for(5.4), {
        "slo_availability_ticket@fresh": (100, False),
        "slo_availability_ticket@young": (715, False),
        "slo_availability_ticket@covered": (725, True),
        "slo_availability_page@never": (725, False),
    }, exprs=[{"expr": f'{ratio_name(86400)}{{slo="availability"}}', "eval_time": "600m",
               "exp_samples": []}])
    out = _run(tmp_path, [case])
    assert out.returncode == 0, out.stdout + out.stderr
