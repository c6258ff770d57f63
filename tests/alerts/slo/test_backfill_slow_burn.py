"""A real backfill with a slow burn: the ticket opens when the maths says, nothing pages.

Twelve hours of clean traffic through the real engine, then a prompt builder in the US
fails 3% of its calls for 22 hours: an availability burn of about 4x, above
the ticket's 3x (1d & 2h) and below the page's 6x (6h & 30m). The 3-day condition
cannot fire before the store holds half its window (36 hours), so the 1-day one is
what opens the ticket, after the workbook's ``1d x 3 / burn``.
"""

from __future__ import annotations

import pytest

from alerts.burn import PAGE, TICKET
from alerts.slo import default_slos
from monitoring.timerange import iso_week
from tests.alerts.slo.realburn import (
    backfilled,
    evaluate_every_minute,
    fault_burn,
    read_events,
    window_detection_s,
)

# The fixture models 34 hours through the real engine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
SLO = next(s for s in default_slos() if s.name == "availability")
CLEAN_H, BURN_H = 12, 22
RATE_WINDOW_S, STEP_S = 300, 60


@pytest.fixture(scope="module")
def slow_burn(tmp_path_factory):
    start = iso_week("2026-W45")[0]
    end = start + (CLEAN_H + BURN_H) * 3600
    settings = {
        # Three times the default traffic keeps the 6-hour error counts well away
        # from the page's factor.
        "engine": {"traffic": {"peak_requests_per_minute": 200}},
        "backfill": {"warmup": "1h",
                     "faults": [{"kind": "builder_errors", "target": "us/analyst",
                                 "at": f"{CLEAN_H}h", "duration": f"{BURN_H}h",
                                 "params": {"rate": 0.03}}]},
    }
    with backfilled(tmp_path_factory.mktemp("slow"), settings, start,
                    CLEAN_H + BURN_H) as (store, faults):
        (fault,) = faults.between(start, end)
        yield store, fault, start, end


def test_ticket_opens_when_the_workbook_says_and_nothing_pages(slow_burn):
    store, fault, start, end = slow_burn
    ev = read_events(store, SLO, start, end)
    burn = fault_burn(ev, fault.start, fault.end)
    day = TICKET.conditions[0]
    assert day.factor < burn < PAGE.conditions[1].factor, burn

    changes = evaluate_every_minute(store, [SLO], start, end)
    fired = [c.at for c in changes
             if c.rule == "slo_availability_ticket" and c.new == "firing"]
    paged = [c for c in changes if c.rule == "slo_availability_page" and c.new != "inactive"]
    assert not paged, f"a {burn:.1f}x burn paged: {paged[0]}"
    assert fired, f"no ticket at a measured burn of {burn:.1f}x"
    took = fired[0] - fault.start

    # The workbook's maths: the 1-day window's mean burn reaches 3 after
    # ``1d x 3 / burn``. The burn is not constant here (the failing builder's share of
    # traffic follows the US day), so it is measured over the burn the window holds
    # when it fires; the same condition is also checked minute by minute on the stored
    # events with plain sums.
    held = fault_burn(ev, fault.start, fired[0])
    workbook = day.detection_time_s(held)
    measured = window_detection_s(day, ev, fault.start)
    assert workbook is not None and measured is not None
    msg = (f"ticket {took / 3600:.2f} h after onset; workbook {workbook / 3600:.2f} h at the "
           f"burn held then ({held:.2f}; {burn:.2f} over the whole fault), windows reach "
           f"the factor at {measured / 3600:.2f} h")
    assert abs(took - measured) <= STEP_S, msg
    # The workbook counts hours; the store weights each minute by its requests, and
    # the clean hours in the window were busier or quieter than the burning ones.
    assert abs(took - workbook) <= 0.10 * workbook, msg
