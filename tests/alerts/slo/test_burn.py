import math

import numpy as np
import pytest

from alerts.burn import (
    PAGE,
    TICKET,
    BurnCondition,
    budget_at,
    burn_rates,
    events,
    exhaustion_s,
    sample_step,
    window_ratio,
    window_sums,
)
from alerts.slo import SLO, Indicator, default_slos
from tests.alerts.slo.synth import minutes

SLOS = {s.name: s for s in default_slos()}


def test_policies_are_the_workbook_ones():
    assert [(c.long_s, c.short_s, c.factor) for c in PAGE.conditions] == [
        (3600, 300, 14.4), (21600, 1800, 6.0)]
    assert [(c.long_s, c.short_s, c.factor) for c in TICKET.conditions] == [
        (86400, 7200, 3.0), (259200, 21600, 1.0)]
    # Budget spent by the time each fires, of a 30-day window: 2%, 5%, 10%, 10%.
    spent = [c.budget_spent_to_fire(30 * 86400) for c in (*PAGE.conditions, *TICKET.conditions)]
    assert spent == pytest.approx([0.02, 0.05, 0.10, 0.10])


def test_detection_time_is_window_times_factor_over_burn():
    c = BurnCondition(3600, 300, 14.4)
    assert c.detection_time_s(28.8) == pytest.approx(1800)
    assert c.detection_time_s(14.4) is None  # never strictly above


def test_window_sums_are_half_open_trailing_windows():
    ts = np.array([60.0, 120, 180, 240])
    assert window_sums(ts, np.ones(4), 120).tolist() == [1, 2, 2, 2]
    assert window_sums(ts, np.array([1.0, 2, 3, 4]), 180).tolist() == [1, 3, 6, 9]


def test_ratio_events_are_weighted_by_traffic():
    slo = SLOS["availability"]
    bad, total = events(slo, np.array([100.0, 90.0, np.nan]), np.array([1.0, 3.0, 5.0]))
    assert bad.tolist() == pytest.approx([0, 0.3, 0])
    assert total.tolist() == [1, 3, 0]  # a minute without a value carries no events
    ts = np.array([60.0, 120, 180])
    assert window_ratio(ts, bad, total, 300)[-1] == pytest.approx(0.3 / 4)


def test_threshold_events_count_bad_minutes():
    slo = SLO(name="db", objective=99, indicator=Indicator(
        kind="threshold", metric="db_query_p95", op="<=", value=50))
    bad, total = events(slo, np.array([10.0, 50.0, 51.0, np.nan]))
    assert bad.tolist() == [0, 0, 1, 0] and total.tolist() == [1, 1, 1, 0]


def test_budget_spent_remaining_and_exhaustion():
    slo = SLOS["availability"]  # budget 0.05%, 28 days
    ts = minutes(28)
    values = np.full(len(ts), 100.0)
    values[-60:] = 99.0  # the last hour at 1% errors: burn 20
    b = budget_at(slo, ts, values, None, float(ts[-1]))
    assert b.burn_at(3600) == pytest.approx(20)
    assert b.burn_at(300) == pytest.approx(20)
    assert b.burn_at(86400) == pytest.approx(20 / 24)
    # 60 bad minutes at 1% of 40320 minutes' worth at 0.05%: 60*0.01/(40320*0.0005).
    assert b.spent == pytest.approx(60 * 0.01 / (40320 * 0.0005))
    assert b.exhaustion_s == pytest.approx((1 - b.spent) * 28 * 86400 / 20)
    assert b.sli == pytest.approx(100 * (1 - 0.6 / 40320))
    assert b.coverage == pytest.approx(1.0)


def test_a_partial_window_reports_the_full_windows_share():
    slo = SLOS["availability"]
    ts = minutes(7)
    values = np.full(len(ts), 100.0)
    values[:60] = 99.0
    b = budget_at(slo, ts, values, None, float(ts[-1]))
    assert b.coverage == pytest.approx(0.25)
    assert b.spent == pytest.approx(60 * 0.01 / (40320 * 0.0005))


def test_exhaustion_edges():
    assert exhaustion_s(1.2, 5.0, 100) == 0.0
    assert exhaustion_s(0.5, 0.0, 100) is None
    assert exhaustion_s(None, 1.0, 100) is None
    assert math.isclose(exhaustion_s(0.5, 2.0, 100), 25)


def test_coverage_follows_the_scrape_interval():
    # Two-minute scrapes fill a window as fully as one-minute ones: burn rates exist.
    slo = SLOS["availability"]
    for step in (60.0, 120.0, 300.0):
        ts = np.arange(1, 3 * 86400 / step + 1) * step
        values = np.full(len(ts), 99.9)  # burn 2
        bad, total = events(slo, values, np.ones(len(ts)))
        burn = burn_rates(slo, ts, bad, total, (3600.0, 86400.0))
        assert burn[86400.0][-1] == pytest.approx(2.0), step
        assert burn[3600.0][-1] == pytest.approx(2.0), step
        # Half a window of data is the least that gives a rate.
        assert np.isnan(burn[86400.0][int(0.4 * 86400 / step)]), step
    assert sample_step(np.array([0.0, 120.0, 240.0, 480.0, 600.0])) == 120.0
    assert sample_step(np.array([5.0])) == 60.0
