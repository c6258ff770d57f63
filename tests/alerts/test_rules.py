import pytest

from alerts.rules import (
    RULE_SPECS,
    Bound,
    Rule,
    RulesFileError,
    RulesSource,
    parse_rules,
    read_rules,
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
