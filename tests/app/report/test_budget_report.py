"""Error budget per SLO and per incident, and MTTD/MTTR per rule, recomputed from the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alerts.evaluator import AlertState, Transition
from alerts.state import AlertStore
from monitoring.app.config import Config, parse_config
from monitoring.app.report import generate
from monitoring.groundtruth import FaultLog, FaultRecord
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import WEEK_S, iso_week
from renderers.report import fmt
from tests.app.report.helpers import number, section, table_rows

WEEK = "2026-W46"
START = iso_week(WEEK)[0]
ERRORS = FaultRecord("builder_errors", "eu/persona", START + 2 * 86400 + 9 * 3600,
                     START + 2 * 86400 + 10 * 3600)
LAG = FaultRecord("replica_lag", "asia", START + 4 * 86400, START + 4 * 86400 + 1800)


def _config(tmp: Path) -> Config:
    return parse_config({
        "store": {"path": str(tmp / "ionmon.db")}, "output_dir": str(tmp / "out"),
        "alerts": {"state_path": str(tmp / "alerts.db"), "rules_path": str(tmp / "rules.yaml")},
    })


def _fill(config: Config) -> None:
    """A week of minutes: 0.01% errors, 2% during the builder fault; in the US 99% of
    requests under 50 ms, 60% on every 97th minute; a diurnal request rate that weights
    the minutes."""
    rng = np.random.default_rng(11)
    ts = START + 60.0 * np.arange(1, WEEK_S // 60 + 1)
    rate = 2.0 + np.sin(ts / 86400 * 2 * np.pi) + 0.1 * rng.random(len(ts))
    during = (ts > ERRORS.start) & (ts <= ERRORS.end)
    avail = np.where(during, 98.0, 99.99) - 0.001 * rng.random(len(ts))
    fast = np.where(np.arange(len(ts)) % 97 == 0, 60.0, 99.0)
    store = SQLiteStore(config.store.path)
    for mid, values in (("availability", avail), ("request_rate", rate),
                        ("fast_requests_us", fast), ("requests_us", rate / 2)):
        store.write(Point(mid, float(t), float(v)) for t, v in zip(ts, values, strict=True))
    store.seal_all()
    store.close()
    faults = FaultLog(config.store.path)
    faults.record(ERRORS)
    faults.record(LAG)
    faults.close()


# (rule, changes as (seconds after ERRORS.start, old, new))
HISTORY = {
    "slo_availability_page": [(240, "inactive", "firing"), (3900, "firing", "resolved")],
    "low_availability": [(60, "inactive", "pending"), (180, "pending", "firing"),
                         (3720, "firing", "resolved")],
    "high_error_rate": [(600, "inactive", "firing"), (1200, "firing", "resolved"),
                        (1500, "resolved", "firing"), (4000, "firing", "resolved")],
}


def _history(config: Config) -> None:
    states = AlertStore(config.alerts.state_path)
    for rule, changes in HISTORY.items():
        for after, old, new in changes:
            alert = AlertState(rule, new, metric="availability")
            states.save({rule: alert}, [Transition(rule, ERRORS.start + after, old, new, alert)])
    states.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, str]:
    tmp = tmp_path_factory.mktemp("budget")
    config = _config(tmp)
    _fill(config)
    _history(config)
    store = SQLiteStore(config.store.path)
    try:
        _, written = generate(config, store, START, tmp / "out")
    finally:
        store.close()
    return config, written.markdown.read_text(encoding="utf-8")


def _week(config: Config, metric: str) -> tuple[np.ndarray, np.ndarray]:
    store = SQLiteStore(config.store.path)
    try:
        s = store.read(metric, START, START + WEEK_S)
    finally:
        store.close()
    keep = s.ts > START
    return s.ts[keep], s.values[keep]


def test_budget_spent_this_week_per_slo(built: tuple[Config, str]) -> None:
    config, md = built
    rows = {r["SLO"]: r for r in table_rows(section(md, "Error Budgets"))
            if "Budget spent this week" in r}
    slo = {s.name: s for s in config.slos}
    _, avail = _week(config, "availability")
    _, rate = _week(config, "request_rate")
    bad = (1 - avail / 100) * rate
    allowed = slo["availability"].budget * rate.mean() * slo["availability"].window / 60
    row = rows["Edge availability"]
    assert number(row["Budget spent this week"]) == pytest.approx(
        100 * bad.sum() / allowed, abs=0.005)
    assert row["Objective"] == "99.95%" and row["Window"] == "28d"
    assert number(row["Good this week"]) == pytest.approx(
        100 * (1 - bad.sum() / rate.sum()), abs=0.0005)
    _, fast = _week(config, "fast_requests_us")
    _, us = _week(config, "requests_us")
    lat = slo["latency_us"]
    slow = (1 - fast / 100) * us
    assert number(rows[lat.title]["Budget spent this week"]) == pytest.approx(
        100 * slow.sum() / (lat.budget * us.mean() * lat.window / 60), abs=0.005)


def test_budget_spent_by_incident(built: tuple[Config, str]) -> None:
    config, md = built
    text = section(md, "Error Budgets")
    incidents = table_rows(text.split("### Budget spent by incident")[1])
    slo = next(s for s in config.slos if s.name == "availability")
    ts, avail = _week(config, "availability")
    _, rate = _week(config, "request_rate")
    bad = (1 - avail / 100) * rate
    allowed = slo.budget * rate.mean() * slo.window / 60
    rows = [r for r in incidents if r["SLO"] == "Edge availability"]
    # Largest first: the builder fault, then the replica fault's background errors.
    assert [r["Fault"] for r in rows] == ["builder_errors on eu/persona", "replica_lag on asia"]
    for row, fault in zip(rows, (ERRORS, LAG), strict=True):
        # A sample stamped t covers the minute before t: the minute after the end counts.
        during = (ts > fault.start) & (ts <= fault.end + 60)
        assert number(row["Budget spent"]) == pytest.approx(100 * bad[during].sum() / allowed,
                                                            abs=0.005)
        assert number(row["Share of the week's spend"]) == pytest.approx(
            100 * bad[during].sum() / bad.sum(), abs=0.01)
    assert number(rows[0]["Share of the week's spend"]) > 50


def test_mttd_and_mttr_per_rule_from_the_alert_history(built: tuple[Config, str]) -> None:
    _, md = built
    rows = {r["Rule"]: r for r in table_rows(section(md, "Detection and Recovery"))}
    states = AlertStore(built[0].alerts.state_path)
    try:
        history = states.history(limit=1000)
    finally:
        states.close()

    def times(rule: str, state: str) -> list[float]:
        return sorted(r["at"] for r in history if r["rule"] == rule and r["new"] == state)

    for rule in ("slo_availability_page", "low_availability", "high_error_rate"):
        fired, resolved = times(rule, "firing"), times(rule, "resolved")
        row = rows[rule]
        assert row["MTTD"] == fmt.fmt_duration(fired[0] - ERRORS.start), rule
        mttr = float(np.mean([r - f for f, r in zip(fired, resolved, strict=True)]))
        assert row["MTTR"] == fmt.fmt_duration(mttr), rule
        assert (row["Fired"], row["Resolved"]) == (str(len(fired)), str(len(resolved)))
        assert (row["Faults meant for it"], row["Detected"]) == ("1", "1")
    assert rows["high_error_rate"]["MTTD"] == "10m"
    assert rows["high_error_rate"]["MTTR"] == "25m50s"  # (10m + 41m40s) / 2
    # The replica fault had its rule; it never fired: counted, not detected.
    assert rows["replication_lag"]["Detected"] == "0"
    assert rows["replication_lag"]["MTTD"] == "—"
