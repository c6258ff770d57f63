import dataclasses

import numpy as np
import pytest

from alerts.export import prometheus_rules
from alerts.rules import (
    RULE_SPECS,
    Bound,
    Rule,
    RulesFileError,
    RulesSource,
    parse_rules,
    read_rules,
    rules_to_yaml,
    write_rules,
)
from alerts.tuner import tune
from engine.faults import FAULT_KINDS
from tests.alerts.synth import week


@pytest.fixture(scope="module")
def tuned() -> list[Rule]:
    ts, v, faults = week()
    return [p.rule for p in tune(RULE_SPECS, ts, v, faults)]


def test_every_rule_names_its_faults_and_every_fault_has_a_rule():
    for spec in RULE_SPECS:
        assert spec.catches, f"{spec.id} names no fault kind it is for"
        assert set(spec.catches) <= set(FAULT_KINDS), spec.id
    caught = {kind for spec in RULE_SPECS for kind in spec.catches}
    assert caught == set(FAULT_KINDS)


def test_nine_rules_round_trip_through_the_file(tmp_path, tuned):
    assert len(RULE_SPECS) == 9 and len(tuned) == 9
    path = tmp_path / "rules.yaml"
    write_rules(path, tuned, {"baseline": "7d"})
    assert read_rules(path) == tuned


@pytest.mark.parametrize("text, where", [
    ("rules: [{id: a, bounds: [{metric: nope, op: '>', value: 1}]}]",
     "rules.0 (a).bounds.0.metric"),
    ("rules: [{id: a, bounds: [{metric: latency_p95, op: '<', value: 1}]}]",
     "rules.0 (a).bounds.0.op"),
    ("rules: [{id: a, bounds: [{metric: latency_p95, op: '>', value: .nan}]}]",
     "rules.0 (a).bounds.0.value"),
    ("rules: [{id: a, bounds: [{metric: latency_p95, op: '>', value: high}]}]",
     "rules.0 (a).bounds.0.value"),
    ("rules: [{id: a, for: soon, bounds: [{metric: latency_p95, op: '>', value: 1}]}]",
     "rules.0 (a).for"),
    ("rules: [{id: a, bounds: [{metric: request_rate, op: '>', hourly: [1, 2]}]}]",
     "rules.0 (a).bounds.0.hourly"),
    ("rules: [{id: a, bounds: []}]", "rules.0 (a).bounds"),
    ("rules: [{id: a, over: 90s, bounds: [{metric: request_rate, op: '>', value: 1}]}]",
     "rules.0 (a).over: expected whole minutes"),
    ("rules: [{id: a, keep_firing_for: soon, bounds: [{metric: request_rate, op: '>', "
     "value: 1}]}]", "rules.0 (a).keep_firing_for"),
    *((f"rules: [{{id: a, bounds: [{{metric: request_rate, op: '>', hourly: {[1] * 24}, "
       f"weekend: {[2] * 24}, {bad}}}]}}]", f"rules.0 (a).bounds.0.weekend_offset_h: {why}")
      for bad, why in (("weekend_offset_h: 20", "bound on request_rate: weekend_offset_h "
                                                "must be hours from UTC"),
                       ("weekend_offset_h: 1.5", "expected whole hours"))),
    ("rules: {}", "rules"),
    ("rules: [a", "not valid YAML"),
])
def test_bad_files_name_file_and_key(text, where):
    with pytest.raises(RulesFileError) as err:
        parse_rules(text, "data/rules.yaml")
    assert str(err.value).startswith("data/rules.yaml: ")
    assert where in str(err.value)


def test_a_bad_file_keeps_the_last_good_rules_in_force(tmp_path, tuned):
    path = tmp_path / "rules.yaml"
    write_rules(path, tuned)
    source = RulesSource(path)
    assert source.rules() == tuned and source.last_error is None
    path.write_text("rules: [{id: x, bounds: [{metric: latency_p95, op: '>', value: -}]}]\n")
    assert source.rules() == tuned
    assert source.last_error and str(path) in source.last_error
    good = [Rule("only", (Bound("latency_p95", ">", value=80.0),), 60, "warning", "s", "r")]
    write_rules(path, good)
    assert source.rules() == good and source.last_error is None


def test_weekend_hours_and_a_disabled_reason_survive_the_file():
    hourly = tuple(float(h) for h in range(24))
    weekend = tuple(100.0 + h for h in range(24))
    rule = Rule("traffic_anomaly", (Bound("request_rate", ">", hourly=hourly, weekend=weekend),),
                600, "info", "s", "rb", k=4.0)
    off = Rule("slow_db_queries", (Bound("db_query_p95", ">", value=3.5),), 300, "warning",
               "s", "rb", k=64.0, disabled="over the false-alarm budget: 0.43/day")
    rule = dataclasses.replace(rule, keep_firing_s=300.0, over_s=900.0)
    assert "keep_firing_for: 5m" in rules_to_yaml([rule])
    back = parse_rules(rules_to_yaml([rule, off]))
    assert back[0].keep_firing_s == 300.0 and back[1].keep_firing_s == 0.0
    assert back[0].over_s == 900.0 and back[1].over_s == 0.0
    assert "keep_firing_for: 5m" in prometheus_rules([rule])
    assert "avg_over_time((sum (rate(ion_http_requests_total[5m])))[15m:1m])" in (
        prometheus_rules([rule]))
    assert back[0].bounds[0].weekend == weekend and back[0].bounds[0].hourly == hourly
    assert back[1].disabled == off.disabled
    sat_3h = 1_767_225_600.0 + 2 * 86400 + 3 * 3600  # 2026-01-03, a Saturday
    assert back[0].bounds[0].threshold_at(np.array([sat_3h, sat_3h + 2 * 86400])).tolist() == [
        103.0, 3.0]
    text = prometheus_rules(back)
    assert "day_of_week()" in text and "slow_db_queries" not in text
    local = Rule("traffic_anomaly", (Bound("requests_asia", "<", hourly=hourly, weekend=weekend,
                                           weekend_offset_h=8),), 600, "info", "s", "rb")
    (b,) = parse_rules(rules_to_yaml([local]))[0].bounds
    assert b.weekend_offset_h == 8 and b.metric == "requests_asia"
    fri_20h = 1_767_225_600.0 + 86400 + 20 * 3600  # Friday UTC, Saturday 04:00 at UTC+8
    assert b.threshold_at(np.array([fri_20h])).tolist() == [120.0]
    assert "day_of_week(vector(time() + 28800))" in prometheus_rules([local])
    with pytest.raises(RulesFileError, match=r"bounds.0.weekend: needs hourly"):
        parse_rules("rules: [{id: a, bounds: [{metric: request_rate, op: '>', value: 1, "
                    "weekend: [1]}]}]")
    with pytest.raises(RulesFileError, match=r"disabled: expected the reason"):
        parse_rules("rules: [{id: a, disabled: true, bounds: [{metric: request_rate, "
                    "op: '>', value: 1}]}]")


def test_backtest_scores_survive_the_file_and_a_bad_one_is_named():
    scores = {"status": "tail",
              "in_sample": {"fires": 3, "false_alarms": 0, "loud": {"faults": 2, "caught": 2}},
              "held_out": {"fires": 2, "false_alarms": 1, "loud": {"faults": 1, "caught": 1}}}
    rule = Rule("slow_db_queries", (Bound("db_query_p95", ">", value=3.5),), 300, "warning",
                "s", "rb", k=4.0, backtest=scores)
    assert parse_rules(rules_to_yaml([rule]))[0].backtest == scores
    assert "backtest" not in prometheus_rules([rule])
    with pytest.raises(RulesFileError, match=r"rules.0 \(a\).backtest: expected a mapping"):
        parse_rules("rules: [{id: a, backtest: [1], bounds: [{metric: request_rate, "
                    "op: '>', value: 1}]}]")
