import numpy as np

from alerts.backtest import (
    AFTERGLOW_S,
    backtest,
    condition,
    normal_breach,
    span_days,
    week_score,
)
from alerts.rules import Bound, Rule
from alerts.tuner import outside_faults
from monitoring.groundtruth import FaultRecord

T0 = 1_767_225_600.0
wk = T0 + np.arange(7 * 1440) * 60.0


def _rule(threshold: float, for_s: float = 120) -> Rule:
    return Rule("high_latency_p95", (Bound("latency_p95", ">", value=threshold),), for_s,
                "warning", "s", "rb")


def _fault(at_h: float, minutes: float, severity: str) -> FaultRecord:
    start = T0 + at_h * 3600
    return FaultRecord("network_delay", "us", start, start + minutes * 60,
                       {"severity": severity, "factor": 5.0 if severity == "loud" else 2.0})


def test_a_week_of_minutes_is_seven_days():
    assert span_days(wk) == 7.0
    r = backtest(_rule(50), ["network_delay"], wk, {"latency_p95": np.full(wk.size, 30.0)}, ())
    assert r.days == 7.0 and r.fires == 0


def test_week_score_splits_loud_and_subtle_faults():
    v = np.full(wk.size, 30.0)
    loud, subtle = _fault(10, 30, "loud"), _fault(40, 30, "subtle")
    missed = _fault(80, 30, "subtle")
    for f, level in ((loud, 200.0), (subtle, 60.0), (missed, 35.0)):
        v[(wk >= f.start) & (wk < f.end)] = level
    v[(wk >= T0 + 120 * 3600) & (wk < T0 + 121 * 3600)] = 90.0  # an hour of trouble, no fault
    s = week_score(_rule(50), ["network_delay"], wk, {"latency_p95": v}, [loud, subtle, missed])
    assert (s.loud.faults, s.loud.caught, s.subtle.faults, s.subtle.caught) == (1, 1, 2, 1)
    assert s.loud.recall == 1.0 and s.subtle.recall == 0.5
    assert s.loud.mean_ttd_s == 120 and s.subtle.mean_ttd_s == 120  # for: 2m
    assert s.fires == 3 and s.false_alarms == 1 and s.false_alarms_per_day == 1 / 7
    d = s.as_dict()
    assert d["loud"] == {"faults": 1, "caught": 1, "mean_ttd_s": 120.0}
    assert d["false_alarms"] == 1 and d["days"] == 7.0
    # A fault recorded without a severity was injected at full strength.
    plain = FaultRecord("network_delay", "us", loud.start, loud.end)
    again = week_score(_rule(50), ["network_delay"], wk, {"latency_p95": v}, [plain])
    assert again.loud.caught == 1


def test_normal_breach_counts_noise_but_not_what_a_fault_left_behind():
    v = np.full(wk.size, 30.0)
    fault = _fault(10, 30, "loud")
    # After the fault the metric takes six hours to come back: the fault's, not noise.
    v[(wk >= fault.start) & (wk < fault.end + 6 * 3600)] = 80.0
    normal = outside_faults(wk, [fault])
    cond = condition(_rule(50), wk, {"latency_p95": v})
    assert normal_breach(cond, wk, [fault], normal) == 0.0
    # Scattered single minutes over the threshold, every tenth minute: 10 % of normal.
    noisy = v.copy()
    noisy[::10] = np.where(normal[::10], 60.0, noisy[::10])
    cond = condition(_rule(50), wk, {"latency_p95": noisy})
    share = normal_breach(cond, wk, [fault], normal)
    assert abs(share - 0.1) < 0.01
    r = backtest(_rule(50), ["network_delay"], wk, {"latency_p95": noisy}, [fault], normal)
    assert r.normal_breach == share and r.false_alarms == 0  # for: 2m never holds
    assert AFTERGLOW_S < 6 * 3600
