import dataclasses

import numpy as np
import pytest

from alerts.backtest import condition, episodes, firing, trailing_mean
from alerts.evaluator import RESOLVED_RETENTION_S, AlertState, evaluate
from alerts.rules import Bound, Rule
from alerts.state import AlertStore

RULE = Rule("high_latency_p95", (Bound("latency_p95", ">", value=50.0),), 120, "warning",
            "p95 high", "look")


def series_query(values: dict[float, float]):
    def query(metric: str, now: float) -> float | None:
        return values.get(now)
    return query


def run(rule, values, times, states=None):
    states = dict(states or {})
    log = []
    for t in times:
        states, changes = evaluate([rule], t, series_query(values), states)
        log += [(c.at, c.old, c.new) for c in changes]
    return states, log


def test_inactive_pending_firing_resolved_inactive():
    times = [i * 60.0 for i in range(40)]
    values = {t: (80.0 if 2 <= i <= 6 else 10.0) for i, t in enumerate(times)}
    states, log = run(RULE, values, times)
    assert log == [(120, "inactive", "pending"), (240, "pending", "firing"),
                   (420, "firing", "resolved"), (420 + RESOLVED_RETENTION_S, "resolved",
                                                  "inactive")]
    assert states["high_latency_p95"].state == "inactive"


def test_a_blip_shorter_than_for_never_fires():
    times = [i * 60.0 for i in range(10)]
    values = {t: (80.0 if i == 3 else 10.0) for i, t in enumerate(times)}
    _, log = run(RULE, values, times)
    assert [n for _, _, n in log] == ["pending", "inactive"]


@pytest.mark.parametrize("keep_s, over_s", [(0.0, 0.0), (300.0, 0.0), (300.0, 900.0)])
def test_evaluator_fires_exactly_where_the_backtest_said(tmp_path, keep_s, over_s):
    rule = dataclasses.replace(RULE, keep_firing_s=keep_s, over_s=over_s)
    rng = np.random.default_rng(4)
    ts = np.arange(600) * 60.0
    v = 40 + 15 * rng.standard_normal(ts.size)
    v[(ts // 3600) % 3 == 1] += 20  # an hour in three runs high: a trailing mean breaches
    expected = firing(condition(rule, ts, {"latency_p95": v}), ts, rule.for_s, keep_s)
    values = dict(zip(ts.tolist(), v.tolist(), strict=True))
    states: dict[str, AlertState] = {}
    got = []
    for t in ts:
        states, _ = evaluate([rule], float(t), series_query(values), states)
        got.append(states[rule.id].state == "firing")
    assert got == expected.tolist() and any(got)
    if keep_s and not over_s:  # kept firing past the condition: fewer or longer episodes
        plain = firing(condition(rule, ts, {"latency_p95": v}), ts, rule.for_s)
        assert len(episodes(expected, ts)) <= len(episodes(plain, ts))
        assert expected.sum() > plain.sum() and not (plain & ~expected).any()


def test_a_firing_alert_resolves_only_after_its_condition_is_clear_for_keep_firing_for():
    rule = dataclasses.replace(RULE, keep_firing_s=180.0)
    # Breached 5 minutes (fires after for:), clear 2, breached 1, clear 4.
    pattern = [1] * 5 + [0] * 2 + [1] + [0] * 4
    times = [i * 60.0 for i in range(len(pattern))]
    values = {t: (80.0 if hit else 10.0) for t, hit in zip(times, pattern, strict=True)}
    _, log = run(rule, values, times)
    # One page: the two-minute gap is kept firing; resolved 3 minutes into the last gap.
    assert [(n, at) for at, _, n in log] == [("pending", 0.0), ("firing", 120.0),
                                             ("resolved", 660.0)]
    # The back-test agrees point by point.
    ts = np.array(times)
    cond = np.array(pattern, dtype=bool)
    assert firing(cond, ts, rule.for_s, rule.keep_firing_s).tolist() == [
        t >= 120.0 and t < 660.0 for t in times]


def test_state_and_history_survive_a_restart(tmp_path):
    path = tmp_path / "alerts.db"
    times = [i * 60.0 for i in range(6)]
    values = {t: 80.0 for t in times}
    db = AlertStore(path)
    states = db.load()
    for t in times[:3]:  # pending at 0, firing at 120
        states, changes = evaluate([RULE], t, series_query(values), states)
        db.save(states, changes)
    db.close()
    db = AlertStore(path)  # a new process
    states = db.load()
    assert states[RULE.id].state == "firing" and states[RULE.id].active_since == 0
    states, changes = evaluate([RULE], 180.0, series_query(values), states)
    assert changes == []  # still firing: nothing new to say, nothing re-sent
    states, changes = evaluate([RULE], 240.0, series_query({240.0: 1.0}), states)
    db.save(states, changes)
    assert [(h["old"], h["new"]) for h in reversed(db.history())] == [
        ("inactive", "pending"), ("pending", "firing"), ("firing", "resolved")]


def test_a_broken_query_marks_one_rule_unhealthy_and_the_others_go_on():
    other = Rule("slow_db_queries", (Bound("db_query_p95", ">", value=5.0),), 0, "warning",
                 "slow", "look")

    def query(metric, now):
        if metric == "latency_p95":
            raise RuntimeError("store is gone")
        return 9.0

    states, changes = evaluate([RULE, other], 0.0, query, {})
    assert states[RULE.id].health.startswith("error: store is gone")
    assert states[other.id].state == "firing" and [c.rule for c in changes] == [other.id]


@pytest.mark.parametrize("value, health", [(None, "no data"), (float("nan"), "no data"),
                                           (10.0, "ok")])
def test_missing_data_is_not_a_breach(value, health):
    states, _changes = evaluate([RULE], 0.0, lambda m, t: value, {})
    assert states[RULE.id].state == "inactive" and states[RULE.id].health == health


def test_a_rule_over_a_window_reads_the_trailing_mean():
    ts = np.arange(30) * 60.0
    v = np.where((ts >= 600) & (ts < 900), 200.0, 10.0)  # five minutes at 200
    v[3] = np.nan  # a missing minute leaves the others' mean
    mean = trailing_mean(ts, v, 900.0)
    assert mean[2] == 10.0 and mean[5] == 10.0 and np.isclose(mean[14], (5 * 200 + 9 * 10) / 14)
    assert np.isclose(mean[20], (5 * 200 + 10 * 10) / 15)  # (5 min, 20 min]: 15 points
    assert np.isclose(mean[25], (4 * 200 + 11 * 10) / 15)  # the first 200 left the window
    # One minute at 200 barely moves a 15-minute mean: no breach; five minutes do.
    rule = dataclasses.replace(RULE, over_s=900.0, for_s=0.0)
    blip = np.where(ts == 600, 200.0, 10.0)
    assert not condition(rule, ts, {"latency_p95": blip}).any()
    assert condition(rule, ts, {"latency_p95": v}).any()
    with pytest.raises(ValueError, match="whole number of 60 s steps"):
        dataclasses.replace(RULE, over_s=90.0)
