import numpy as np
import pytest

from alerts.backtest import condition, firing
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


def test_evaluator_fires_exactly_where_the_backtest_said(tmp_path):
    rng = np.random.default_rng(4)
    ts = np.arange(600) * 60.0
    v = 40 + 15 * rng.standard_normal(ts.size)
    expected = firing(condition(RULE, ts, {"latency_p95": v}), ts, RULE.for_s)
    values = dict(zip(ts.tolist(), v.tolist(), strict=True))
    states: dict[str, AlertState] = {}
    got = []
    for t in ts:
        states, _ = evaluate([RULE], float(t), series_query(values), states)
        got.append(states[RULE.id].state == "firing")
    assert got == expected.tolist() and any(got)


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
