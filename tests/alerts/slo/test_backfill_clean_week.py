"""A real clean week: no burn-rate alert of any SLO pages or opens a ticket.

Seven days through the real engine on the default configuration with no fault
injected; the embedded evaluator runs every SLO's page and ticket rule at every stored
minute. The one-pass series it reads are checked against ``slo_query`` (the live,
store-reading path) every six hours.
"""

from __future__ import annotations

import numpy as np
import pytest

from alerts.burn import POLICIES
from alerts.evaluator import store_query
from alerts.slo import default_slos
from alerts.slo_rules import series_id, slo_query
from monitoring.timerange import WEEK_S, iso_week
from tests.alerts.slo.realburn import backfilled, evaluate_every_minute, slo_series

SLOS = default_slos()
# The fixture models a whole week through the real engine: minutes, not seconds.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def clean_week(tmp_path_factory):
    start = iso_week("2026-W45")[0]
    with backfilled(tmp_path_factory.mktemp("clean"), {"backfill": {"faults": []}},
                    start, 7 * 24) as (store, faults):
        assert faults.between(start, start + WEEK_S) == []
        yield store, start, start + WEEK_S


def test_no_slo_alert_on_the_clean_week(clean_week):
    store, start, end = clean_week
    changes = evaluate_every_minute(store, SLOS, start, end)
    peaks = []
    for slo in SLOS:
        _, series = slo_series(store, slo, start, end)
        for policy in POLICIES:
            for c in policy.conditions:
                peaks.append(f"{slo.name} {c.label}: max {np.nanmax(series[series_id(slo, c)]):.2f}"
                             f" (fires above {c.factor:g})")
    assert not changes, f"{changes[0]}\n" + "\n".join(peaks)
    # Every SLO was evaluated on data: a week of minutes for each indicator.
    for slo in SLOS:
        ts, series = slo_series(store, slo, start, end)
        assert len(ts) >= 7 * 1440 - 5, slo.name
        assert np.isfinite(series[series_id(slo, POLICIES[0].conditions[0])]).mean() > 0.99


def test_one_pass_series_equal_the_live_query(clean_week):
    store, start, end = clean_week
    live = slo_query(store, SLOS, store_query(store))
    for slo in SLOS:
        ts, series = slo_series(store, slo, start - 3 * 86400, end)
        for now in ts[(ts > start) & (ts % 21600 == 0)]:
            i = int(np.searchsorted(ts, now))
            for sid, values in series.items():
                got, want = live(sid, float(now)), values[i]
                if np.isfinite(want):
                    assert got == pytest.approx(float(want), rel=1e-9, abs=1e-12), (sid, now)
                else:
                    assert got is None, (sid, now)
