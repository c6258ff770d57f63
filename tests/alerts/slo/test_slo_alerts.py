"""Burn-rate alerts in the embedded evaluator, on synthetic minutes with a known burn."""

import numpy as np

from alerts.burn import PAGE, TICKET
from alerts.slo import default_slos
from tests.alerts.slo.synth import availability, minutes, run_alerts, step

SLO = next(s for s in default_slos() if s.name == "availability")
DAY = 86400.0


def _first(events, rule, state="firing"):
    return next((at for r, s, at in events if r == rule and s == state), None)


def test_clean_week_fires_nothing():
    ts = minutes(7)
    values = availability(ts, np.full(len(ts), 2e-5))  # burn 0.04
    assert run_alerts(SLO, ts, values) == []


def test_fast_burn_pages_when_the_workbook_says():
    ts = minutes(4)
    t0 = ts[0] + 2 * DAY
    burn = 40.0
    values = availability(ts, step(ts, t0, t0 + 3600, burn * SLO.budget))
    events = run_alerts(SLO, ts, values)
    predicted = min(t for c in PAGE.conditions
                    if (t := c.detection_time_s(burn)) is not None)  # 1h * 14.4 / 40
    fired = _first(events, "slo_availability_page")
    assert fired is not None
    assert predicted - 120 <= fired - t0 <= predicted + 120, (fired - t0, predicted)
    # Short windows let it resolve soon after the burn stops: an hour at 40x is 6.7x
    # over 6h, so the 6h&30m condition holds until its 30m window clears.
    resolved = _first(events, "slo_availability_page", "resolved")
    assert resolved - (t0 + 3600) <= 30 * 60
    # An hour at 40x is 40/672 of a 28-day budget: not a slow burn, no ticket.
    assert _first(events, "slo_availability_ticket") is None


def test_slow_burn_opens_a_ticket_and_never_pages():
    ts = minutes(6)
    t0 = ts[0] + 3 * DAY
    burn = 4.0
    values = availability(ts, step(ts, t0, ts[-1], burn * SLO.budget))
    events = run_alerts(SLO, ts, values)
    predicted = min(t for c in TICKET.conditions
                    if (t := c.detection_time_s(burn)) is not None)  # 18 h
    fired = _first(events, "slo_availability_ticket")
    assert fired is not None
    # Binomial noise on a low ratio: allow 10% of the predicted time either way.
    assert abs((fired - t0) - predicted) <= 0.1 * predicted, ((fired - t0) / 3600, predicted / 3600)
    assert _first(events, "slo_availability_page") is None
