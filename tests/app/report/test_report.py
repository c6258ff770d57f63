"""The report's figures are the store's figures: each is recomputed here from the store."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.evaluator import AlertState, Transition
from alerts.state import AlertStore
from monitoring.app.report import generate
from monitoring.catalog import CATALOG
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import WEEK_S
from renderers.report import fmt
from tests.app.report.conftest import INDEX_FAULT_AT, Built
from tests.app.report.helpers import key_metrics, number, section, table_rows

# Two real modelled weeks are built for these tests (the session fixtures in conftest).
pytestmark = pytest.mark.slow


def _week_values(store: SQLiteStore, metric_id: str, start: float) -> np.ndarray:
    # The same query the report documents: samples stamped in (start, start + 1 week].
    s = store.read(metric_id, start, start + WEEK_S)
    keep = (s.ts > start) & np.isfinite(s.values)
    return s.values[keep]


def _report(built: Built, out, **kw):
    store = SQLiteStore(built.store_path)
    try:
        report, written = generate(built.config, store, built.week_start, out, **kw)
        return report, written, written.markdown.read_text(encoding="utf-8")
    finally:
        store.close()


def test_every_key_figure_equals_the_store(real_day: Built, tmp_path) -> None:
    _, _, md = _report(real_day, tmp_path)
    rows = key_metrics(md)
    assert set(rows) == set(CATALOG)
    store = SQLiteStore(real_day.store_path)
    checked = 0
    for mid, row in rows.items():
        metric = CATALOG[mid]
        values = _week_values(store, mid, real_day.week_start)
        cell = row["This week (mean)"]
        if len(values) == 0:
            assert cell == fmt.MISSING
            continue
        mean = float(values.mean())
        assert cell == fmt.fmt_value(mean, metric.unit), mid
        assert math.isclose(number(cell), mean, rel_tol=0.01, abs_tol=1e-3), mid
        if metric.target is not None:
            share = np.mean([metric.target.met(v) for v in values])
            assert row["In target"] == fmt.fmt_share(share), mid
            assert row["Status"] == ("✓ MET" if metric.target.met(mean) else "✗ MISSED"), mid
        assert row["Last week (mean)"] == "n/a" and row["Change"] == "n/a", mid
        checked += 1
    store.close()
    assert checked >= 20
    assert "n/a (the store holds no data for the previous week)" in md


def test_incident_effect_is_measured(real_day: Built, tmp_path) -> None:
    report, _, md = _report(real_day, tmp_path)
    assert [i.fault.kind for i in report.incidents] == ["index_dropped"]
    effects = {e.metric_id: e for e in report.incidents[0].effects}
    p95 = effects["db_query_p95"]
    assert p95.worst > p95.baseline  # a dropped index makes queries slower
    fault = report.incidents[0].fault
    store = SQLiteStore(real_day.store_path)
    s = store.read("db_query_p95", fault.start, fault.end + 60)
    store.close()
    during = s.values[(s.ts > fault.start) & np.isfinite(s.values)]
    assert p95.worst == pytest.approx(during.max())
    rows = table_rows(section(md, "Incidents"))
    assert rows[0]["Worst"] == fmt.fmt_value(during.max(), "ms")
    assert "index_dropped on us" in md


def _assert_changes_equal_the_store(built: Built, rows: dict) -> None:
    store = SQLiteStore(built.store_path)
    for mid in CATALOG:
        cur = _week_values(store, mid, built.week_start).mean()
        prev = _week_values(store, mid, built.week_start - WEEK_S).mean()
        if CATALOG[mid].unit == "%":
            expected = fmt.fmt_change(cur - prev, "pp")
        elif prev != 0:
            expected = fmt.fmt_change((cur - prev) / abs(prev) * 100, "rel")
        else:
            expected = fmt.fmt_change(cur - prev, "abs", CATALOG[mid].unit)
        assert rows[mid]["Change"].split(" (")[0] == expected, mid
        assert rows[mid]["Last week (mean)"] == fmt.fmt_value(prev, CATALOG[mid].unit), mid
    store.close()


def test_change_column_on_a_real_two_week_backfill(real_two_weeks: Built, tmp_path) -> None:
    """Two modelled weeks through the engine; only the second has an index dropped."""
    _, _, md = _report(real_two_weeks, tmp_path)
    rows = key_metrics(md)
    _assert_changes_equal_the_store(real_two_weeks, rows)
    for mid in ("db_query_p95", "db_slow_queries"):
        assert rows[mid]["Change"].endswith("(worse)"), (mid, rows[mid]["Change"])
    assert "index_dropped on us" in md
    # the first week saw no fault: its report has no incidents
    store = SQLiteStore(real_two_weeks.store_path)
    report, _ = generate(real_two_weeks.config, store, real_two_weeks.week_start - WEEK_S,
                         tmp_path / "first")
    store.close()
    assert not report.incidents


def test_change_column_shows_the_second_weeks_fault(two_weeks: Built, tmp_path) -> None:
    _, written, md = _report(two_weeks, tmp_path)
    rows = key_metrics(md)
    _assert_changes_equal_the_store(two_weeks, rows)
    # The fault's metric moved the most, the wrong way; the others stayed within noise.
    db = rows["db_query_p95"]["Change"]
    assert db.endswith("(worse)") and number(db) > 5
    others = [abs(number(rows[m]["Change"])) for m in CATALOG
              if m not in ("db_query_p95", "db_slow_queries") and CATALOG[m].unit != "%"]
    assert max(others) < 2
    assert "Biggest change from last week**: DB query p95" in md or \
        "Biggest change from last week**: Slow queries" in md
    assert any(p.name == "db_query_p95.svg" for p in written.charts)


def test_first_week_change_is_not_available(two_weeks: Built, tmp_path) -> None:
    store = SQLiteStore(two_weeks.store_path)
    report, _ = generate(two_weeks.config, store, two_weeks.week_start - WEEK_S, tmp_path)
    store.close()
    assert all(r.change is None for r in report.rows.values())
    assert not report.incidents


def test_alerts_and_threshold_changes(two_weeks: Built, tmp_path) -> None:
    fault_start = two_weeks.week_start + INDEX_FAULT_AT
    states = AlertStore(two_weeks.config.alerts.state_path)
    steps = [("inactive", "pending", 120), ("pending", "firing", 240),
             ("firing", "resolved", 3900)]
    for old, new, after in steps:
        alert = AlertState("DatabaseSlow", new, value=21.0, metric="db_query_p95")
        states.save({"DatabaseSlow": alert},
                    [Transition("DatabaseSlow", fault_start + after, old, new, alert)])
    states.close()
    log = tmp_path / "tuning.jsonl"
    log.write_text('{"at": %f, "rule": "DatabaseSlow", "metric": "db_query_p95", '
                   '"old": "> 5", "new": "> 4.2", "applied": false}\n'
                   % (two_weeks.week_start + 3600), encoding="utf-8")
    _, _, md = _report(two_weeks, tmp_path / "out", tuning_log=log)
    alerts = table_rows(section(md, "Alerts"))
    assert len(alerts) == 1
    assert alerts[0]["Time to detect"] == "4m" and alerts[0]["Duration"] == "1h1m"
    assert "index_dropped on us" in alerts[0]["Fault"]
    assert "alert `DatabaseSlow` fired 4m after the fault began" in md
    changes = table_rows(section(md, "Threshold Changes"))
    assert changes[0]["New"] == "> 4.2" and changes[0]["Applied"] == "proposed only"


def test_charts_have_titles_axes_and_fault_shading(two_weeks: Built, tmp_path) -> None:
    _, _, md = _report(two_weeks, tmp_path)
    svg = (tmp_path / "charts" / "db_query_p95.svg").read_text(encoding="utf-8")
    assert "<title>DB query p95 (ms)" in svg
    assert "time (UTC)" in svg and ">ms</text>" in svg
    assert 'fill="#f9703e"' in svg and "index_dropped us" in svg  # the fault window
    assert "target &lt; 5 ms" in svg
    assert "](charts/db_query_p95.svg)" in md
