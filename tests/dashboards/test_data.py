from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dashboards.alertview import AlertView
from dashboards.data import (
    build_dashboard_data,
    downsample,
    load_dashboard_data,
    status_of,
    summarise,
)
from dashboards.definitions import DASHBOARDS
from monitoring.catalog import Target
from monitoring.store.base import Series
from monitoring.store.sqlite import SQLiteStore
from tests.dashboards.synth import END, make_store


def test_summarise_uses_last_value_with_data() -> None:
    ts = np.arange(5, dtype=float)
    values = np.array([10.0, 60.0, 20.0, 30.0, np.nan])
    s = summarise(values, ts, Target("<", 50))
    assert (s.current, s.current_ts, s.min, s.max, s.samples) == (30.0, 3.0, 10.0, 60.0, 4)
    assert s.mean == pytest.approx(30.0)
    assert s.met_ratio == pytest.approx(0.75)
    assert status_of(s, Target("<", 50)) == "ok"
    assert status_of(s, Target("<", 25)) == "breach"
    assert status_of(s, None) == "info"


def test_summarise_without_data() -> None:
    s = summarise(np.full(3, np.nan), np.arange(3.0), Target("<", 1))
    assert s.current is None and s.samples == 0 and s.met_ratio is None
    assert status_of(s, Target("<", 1)) == "nodata"


def test_downsample_keeps_the_worst_value_per_bucket() -> None:
    ts = np.arange(1000, dtype=float)
    values = np.ones(1000)
    values[500] = 99.0  # a one-sample spike must survive
    cts, cvals = downsample(ts, values, "down", max_points=100)
    assert len(cvals) == 100 and cvals.max() == 99.0 and cts[0] == 0.0
    _, up = downsample(ts, -values, "up", max_points=100)
    assert up.min() == -99.0


def test_build_from_series_and_threshold_override() -> None:
    ts = np.arange(0, 600, 60, dtype=float)
    series = {"latency_p95": Series("latency_p95", ts, np.full(len(ts), 45.0))}
    d = build_dashboard_data(DASHBOARDS["latency"], series, 0, 540, step=60)
    p95 = next(m for p in d.panels for m in p.metrics if m.id == "latency_p95")
    assert p95.status == "ok"
    tuned = build_dashboard_data(DASHBOARDS["latency"], series, 0, 540, step=60,
                                 thresholds={"latency_p95": Target("<", 40)})
    p95 = next(m for p in tuned.panels for m in p.metrics if m.id == "latency_p95")
    assert p95.status == "breach" and p95.threshold == Target("<", 40)
    assert tuned.status == "breach"
    # metrics without series have no data rather than failing
    assert any(m.status == "nodata" for p in d.panels for m in p.metrics)


class CountingStore:
    def __init__(self, inner: SQLiteStore) -> None:
        self.inner, self.calls = inner, 0

    def read_many(self, series, start, end, step=None):
        self.calls += 1
        return self.inner.read_many(series, start, end, step)


def test_load_reads_the_store_once_per_dashboard(tmp_path: Path) -> None:
    store = make_store(tmp_path / "s.db", days=0.5)
    counting = CountingStore(store)
    for dash in DASHBOARDS.values():
        data = load_dashboard_data(dash, counting, END - 6 * 3600, END)  # type: ignore[arg-type]
        assert all(m.stats.samples > 300 for p in data.panels for m in p.metrics)
    # Plus one raw read over the SLO window for each dashboard with a budget panel.
    budget_panels = sum(any(p.kind == "budget" for p in d.panels) for d in DASHBOARDS.values())
    assert budget_panels == 1
    assert counting.calls == len(DASHBOARDS) + budget_panels
    store.close()


def test_alert_panels_filter_and_order_alerts() -> None:
    alerts = [
        AlertView("Old", "warning", "resolved", 100.0),
        AlertView("New", "critical", "firing", 50.0),
        AlertView("Soon", "info", "pending", 200.0),
    ]
    d = build_dashboard_data(DASHBOARDS["overview"], {}, 0, 300, step=60, alerts=alerts)
    firing = next(p for p in d.panels if p.kind == "alerts")
    assert [a.name for a in firing.alerts] == ["New", "Soon"]
    hist = build_dashboard_data(DASHBOARDS["infrastructure"], {}, 0, 300, step=60, alerts=alerts)
    panel = next(p for p in hist.panels if p.kind == "alerts")
    assert [a.name for a in panel.alerts] == ["New", "Soon", "Old"]
    assert d.status == "breach"  # a firing alert outranks metrics without data


def test_alert_view_validates() -> None:
    with pytest.raises(ValueError, match="state"):
        AlertView("x", "critical", "burning", 0.0)
    with pytest.raises(ValueError, match="severity"):
        AlertView("x", "urgent", "firing", 0.0)
