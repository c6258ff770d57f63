"""A real backfill with an availability incident: the page fires when the maths says.

Five modelled hours through the real engine (20 requests a minute at peak): a prompt
builder fails every call for an hour. The burn is measured from the stored series,
the workbook's detection time computed from it, and the embedded evaluator run over
the stored minutes through ``slo_query``, the store-reading query live runs use.
"""

from __future__ import annotations

import pytest

from alerts.burn import PAGE, events
from alerts.evaluator import evaluate, store_query
from alerts.slo import default_slos
from alerts.slo_rules import read_indicator, slo_query, slo_rules
from monitoring.timerange import iso_week
from tests.alerts.slo.realburn import backfilled

SLO = next(s for s in default_slos() if s.name == "availability")
RATE_WINDOW_S = 300  # each minute's ratio covers the 5 minutes before it
STEP_S = 60


@pytest.fixture(scope="module")
def incident(tmp_path_factory):
    start = iso_week("2026-W45")[0] + 9 * 3600  # a weekday morning
    settings = {
        "engine": {"traffic": {"peak_requests_per_minute": 20}},
        "backfill": {"faults": [{"kind": "builder_errors", "target": "us/analyst",
                                 "at": "1h", "duration": "1h", "params": {"rate": 1.0}}]},
    }
    with backfilled(tmp_path_factory.mktemp("incident"), settings, start, 5) as (store, faults):
        fault = faults.between(start, start + 5 * 3600)[0]
        yield store, fault, start


def test_page_fires_within_the_workbook_time(incident):
    store, fault, start = incident
    ts, avail, weights = read_indicator(store, SLO, start, start + 5 * 3600)
    bad, total = events(SLO, avail, weights)
    during = (ts > fault.start) & (ts <= fault.end)
    burn = float(bad[during].sum() / total[during].sum()) / SLO.budget
    onset = float(ts[during & (bad > 0)][0]) - STEP_S  # the minute errors first show
    predicted = min(t for c in PAGE.conditions if (t := c.detection_time_s(burn)) is not None)

    rules = slo_rules([SLO])
    query = slo_query(store, [SLO], store_query(store))
    states: dict = {}
    fired = None
    for now in ts[ts > fault.start - 3600]:
        states, changes = evaluate(rules, float(now), query, states)
        if any(c.rule == "slo_availability_page" and c.new == "firing" for c in changes):
            fired = float(now)
            break
    assert burn > 14.4, burn
    assert fired is not None, f"no page at a measured burn of {burn:.1f}"
    # The workbook assumes a constant burn seen at once; the store sees it through a
    # 5-minute rate window, one sample a minute.
    slack = RATE_WINDOW_S + STEP_S
    assert fault.start <= fired <= onset + predicted + slack, (
        f"fired {(fired - onset) / 60:.1f} min after onset, predicted "
        f"{predicted / 60:.1f} min at burn {burn:.1f}")
    assert states["slo_availability_ticket"].state != "firing"
