from dataclasses import replace

import numpy as np
import pytest

from alerts.backtest import BacktestResult, backtest, episodes, firing
from alerts.rules import RULE_SPECS, SPECS_BY_ID, Bound, Rule
from alerts.tuner import (
    K_GRID,
    MAX_FALSE_PER_DAY,
    MAX_NORMAL_BREACH,
    choose,
    propose_rule,
    round_rule,
    significant,
    tune,
    tune_rule,
)
from tests.alerts.synth import week


@pytest.fixture(scope="module")
def data():
    return week()


def test_every_rule_catches_its_faults_without_false_alarms(data):
    ts, v, faults = data
    proposals = {p.spec.id: p for p in tune(RULE_SPECS, ts, v, faults)}
    assert set(proposals) == {s.id for s in RULE_SPECS}
    for p in proposals.values():
        c = p.chosen
        assert c.false_alarms == 0, p.spec.id
        if c.faults:
            assert c.recall == 1.0 and c.precision == 1.0, p.spec.id
            # Detected within for: plus two scrapes of the fault's start.
            assert c.mean_ttd_s <= p.spec.for_s + 120, p.spec.id
        assert len(p.tradeoff) in (len(K_GRID), 2 * len(K_GRID))  # the tail sigma too


def test_seasonal_rule_has_hourly_thresholds_on_both_sides(data):
    ts, v, faults = data
    p = tune_rule(SPECS_BY_ID["traffic_anomaly"], ts, v, faults)
    assert {b.op for b in p.rule.bounds} == {">", "<"}
    upper = next(b for b in p.rule.bounds if b.op == ">")
    assert upper.hourly is not None and max(upper.hourly) - min(upper.hourly) > 30
    # A flat-noise metric keeps one threshold.
    p = tune_rule(SPECS_BY_ID["high_latency_p95"], ts, v, faults)
    assert p.rule.bounds[0].hourly is None


def test_catalog_target_caps_a_loose_threshold(data):
    ts, v, faults = data
    v = dict(v)
    rng = np.random.default_rng(5)
    v["latency_p95"] = 40 + 8 * rng.standard_normal(ts.size)  # 40 + 3*8 = 64 > target 50
    spec = SPECS_BY_ID["high_latency_p95"]
    p = tune_rule(spec, ts, v, faults)
    assert p.rule.bounds[0].value == 50.0
    # When normal already breaches the target, capping would page all week: no cap.
    v["latency_p95"] = 70 + rng.standard_normal(ts.size)
    p = tune_rule(spec, ts, v, faults)
    assert p.rule.bounds[0].value > 70


def test_larger_k_never_fires_more(data):
    ts, v, faults = data
    p = tune_rule(SPECS_BY_ID["resource_saturation"], ts, v, faults)
    fires = [r.fires for r in p.tradeoff]
    assert fires == sorted(fires, reverse=True)


def test_for_duration_needs_the_condition_to_hold():
    ts = np.arange(10) * 60.0
    cond = np.array([0, 1, 1, 1, 0, 1, 1, 1, 1, 1], dtype=bool)
    assert firing(cond, ts, 120).tolist() == [0, 0, 0, 1, 0, 0, 0, 1, 1, 1]
    assert firing(cond, ts, 0).tolist() == cond.tolist()
    eps = episodes(firing(cond, ts, 120), ts)
    assert [(e.start, e.end) for e in eps] == [(180, 180), (420, 540)]


def test_a_rule_that_fires_outside_faults_counts_false_alarms(data):
    ts, v, faults = data
    spec = SPECS_BY_ID["high_latency_p95"]
    p = tune_rule(spec, ts, v, faults)
    v = dict(v)
    v["latency_p95"] = v["latency_p95"].copy()
    v["latency_p95"][100:120] += 100  # 20 minutes of trouble with no fault recorded
    r = backtest(propose_rule(spec, p.baselines, p.chosen.k), spec.catches, ts, v, faults)
    assert r.false_alarms == 1 and r.fires == 2 and r.precision == 0.5


def test_a_heavy_tailed_metric_never_yields_an_unmarked_rule_over_budget(data):
    ts, v, faults = data
    spec = SPECS_BY_ID["slow_db_queries"]
    rng = np.random.default_rng(11)
    # Query times with a Pareto tail: the median/MAD sigma says 0.2 ms, the tail
    # reaches tens of ms a few times a day.
    for a in (3.0, 1.2, 0.6):
        w = dict(v)
        for metric in spec.metrics:  # each region's p95 query time
            w[metric] = 2.0 + 0.2 * rng.pareto(a, ts.size)
        p = tune_rule(spec, ts, w, faults)
        over = p.chosen.false_alarms_per_day > MAX_FALSE_PER_DAY
        assert p.status in ("chosen", "tail", "widened", "target", "disabled")
        if p.status == "disabled":
            assert p.rule.disabled and "budget" in p.rule.disabled
        else:
            assert not over, (a, p.status, p.chosen)
            assert p.rule.disabled is None
        assert p.rule.for_s == spec.for_s
        # What the proposal says is what its rule does.
        r = backtest(p.rule, spec.catches, ts, w, faults)
        assert (r.fires, r.false_alarms) == (p.chosen.fires, p.chosen.false_alarms)
    # Noise nothing can tune away: every threshold pages, so the rule is disabled.
    w = dict(v)
    for metric in spec.metrics:
        w[metric] = np.where(np.arange(ts.size) % 240 < 10, 1e4, 2.0)
    p = tune_rule(spec, ts, w, faults, wider=())
    assert p.status == "disabled" and "over the false-alarm budget" in p.rule.disabled
    assert p.chosen.false_alarms_per_day > MAX_FALSE_PER_DAY


def test_round_rule_keeps_the_fewest_digits_the_check_allows():
    rule = Rule("r", (Bound("latency_p95", ">", value=36.6789),
                      Bound("request_rate", "<", hourly=tuple(0.0123456 + h for h in range(24)))),
                60, "warning", "s", "rb")
    # Any rounding passes: one significant digit.
    r = round_rule(rule, lambda _: True)
    assert r.bounds[0].value == 40.0 and r.bounds[1].hourly[0] == 0.01
    # Only thresholds within 0.01 of the original pass: 36.68, and 4 digits for every hour
    # (one precision per bound, set by its largest threshold).
    def close(c: Rule) -> bool:
        return all(abs(a - b) < 0.01 for x, y in zip(c.bounds, rule.bounds, strict=True)
                   for a, b in zip(x.thresholds, y.thresholds, strict=True))
    r = round_rule(rule, close)
    assert r.bounds[0].value == 36.68
    assert r.bounds[1].hourly[0] == 0.01235 and r.bounds[1].hourly[23] == 23.01
    assert significant(0.000293085, 2) == 0.00029


def test_tuned_thresholds_are_rounded_without_changing_the_backtest(data):
    ts, v, faults = data
    for p in tune(RULE_SPECS, ts, v, faults):
        r = backtest(p.rule, p.spec.catches, ts, v, faults)
        assert (r.fires, r.false_alarms, r.detected, r.mean_ttd_s) == (
            p.chosen.fires, p.chosen.false_alarms, p.chosen.detected, p.chosen.mean_ttd_s)
        for b in p.rule.bounds:
            assert all(len(f"{t:.6g}".replace(".", "").lstrip("0-")) <= 6 for t in b.thresholds)


def _row(k: float, false_alarms: int, loud: int, detected: int) -> BacktestResult:
    return BacktestResult("r", k, false_alarms + detected, false_alarms, false_alarms / 7,
                          3, detected, None, detected / 3, 60.0 * k, 7.0,
                          loud_faults=2, loud_detected=loud)


def test_choose_takes_the_smallest_k_that_catches_the_most_within_budget():
    rows = [_row(3, 2, 2, 3), _row(4, 0, 2, 3), _row(5, 0, 2, 3), _row(6, 0, 1, 1)]
    assert choose(rows)[0].k == 4  # 3 is over the budget; 5 catches no more


def test_choose_puts_loud_faults_before_subtle_ones():
    rows = [_row(3, 0, 1, 1), _row(4, 0, 0, 2)]
    assert choose(rows)[0].k == 3


def test_a_threshold_inside_the_noise_is_never_chosen():
    # Its firings all overlapped faults (no false alarm in sample), but its condition
    # held on a fifth of the normal minutes: on another week it pages.
    lucky = replace(_row(3, 0, 2, 3), normal_breach=0.2)
    quiet = replace(_row(4, 0, 1, 2), normal_breach=MAX_NORMAL_BREACH / 2)
    assert choose([lucky, quiet])[0].k == 4
    chosen, reason = choose([lucky])
    assert chosen is lucky and "no k meets" in reason
