"""Replaying the alerts over a backfilled day: one evaluator, one truth with the back-test."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from alerts.backtest import condition, episodes, firing
from alerts.baseline import read_history
from alerts.cycle import load_rules
from alerts.evaluator import STALENESS_S
from alerts.notify.log import LogNotifier
from alerts.replay import replay
from alerts.retune import RULE_METRICS, apply, propose
from alerts.slo_rules import condition_series, read_indicator
from alerts.state import AlertStore
from dashboards.report.model import Window, alert_episodes, build_report
from monitoring.app.backfill import run_backfill
from monitoring.app.config import Config, parse_config
from monitoring.app.report import load_inputs
from monitoring.groundtruth import FaultLog
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import iso_week

STEP = 60.0


@dataclass(frozen=True)
class Day:
    config: Config
    start: float
    end: float


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    """One modelled day through the real engine, two faults in it, rules tuned on it."""
    tmp = tmp_path_factory.mktemp("replay")
    config = parse_config({
        "store": {"path": str(tmp / "ionmon.db")},
        "alerts": {"state_path": str(tmp / "alerts.db"), "rules_path": str(tmp / "rules.yaml")},
        "engine": {"traffic": {"peak_requests_per_minute": 20}},
        "backfill": {"warmup": "30m", "faults": [
            {"kind": "index_dropped", "target": "us", "at": "10h", "duration": "1h"},
            {"kind": "l2_down", "target": "us", "at": "16h", "duration": "40m"}]},
    })
    start = iso_week("2026-W45")[0]
    end = start + 86400
    store, faults = SQLiteStore(config.store.path), FaultLog(config.store.path)
    try:
        run_backfill(config, store, faults, start, 1)
        history = read_history(store, RULE_METRICS, start, end, faults, step=STEP)
        apply(config.alerts, propose(history, config.alerts), end, 86400)
    finally:
        store.close()
        faults.close()
    yield Day(config, start, end)


def _replayed(day: Day) -> dict[str, list[tuple[float, float | None]]]:
    states = AlertStore(day.config.alerts.state_path)
    try:
        rows = states.history(limit=1_000_000)
    finally:
        states.close()
    out: dict[str, list[tuple[float, float | None]]] = {}
    for e in alert_episodes(rows, Window(-math.inf, math.inf), ()):
        out.setdefault(e.rule, []).append((e.fired_at, e.resolved_at))
    return out


def _expected(rule, ts: np.ndarray, values: dict[str, np.ndarray]
              ) -> list[tuple[float, float | None]]:
    """The back-test's firing episodes, spelled as the evaluator records them: fired at
    the first firing evaluation, resolved at the first evaluation after the last."""
    eps = episodes(firing(condition(rule, ts, values), ts, rule.for_s, rule.keep_firing_s), ts)
    return [(e.start, None if e.end == ts[-1] else e.end + STEP) for e in eps]


def _on_grid(src_ts: np.ndarray, src: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The latest value at or before each grid point within the staleness bound."""
    i = np.searchsorted(src_ts, grid, side="right") - 1
    ok = (i >= 0) & (grid - src_ts[np.clip(i, 0, None)] <= STALENESS_S)
    return np.where(ok, src[np.clip(i, 0, None)], np.nan)


def test_replay_gives_the_backtests_episodes(day: Day):
    store = SQLiteStore(day.config.store.path)
    try:
        result = replay(day.config.alerting, store, day.start, day.end, [LogNotifier()])
        history = read_history(store, RULE_METRICS, day.start + STEP, day.end, step=STEP)
        values = dict(history.values)
        for slo in day.config.slos:  # the burn-rate series over the same trailing windows
            ts, v, w = read_indicator(store, slo, day.start - 7 * 86400, day.end)
            for sid, arr in condition_series(slo, ts, v, w).items():
                values[sid] = _on_grid(ts, arr, history.ts)
    finally:
        store.close()
    assert result.evaluations == len(history.ts) == 1440
    rules, error = load_rules(day.config.alerting)
    assert error is None and any(not r.id.startswith("slo_") for r in rules)
    replayed = _replayed(day)
    fired = 0
    for rule in rules:
        expected = _expected(rule, history.ts, values)
        assert replayed.get(rule.id, []) == expected, rule.id
        fired += len(expected)
    assert fired > 0  # the day's faults fired something: the comparison is not of nothing
    assert result.fired == fired


def test_a_second_replay_carries_on_and_writes_nothing_twice(day: Day):
    before = _replayed(day)
    store = SQLiteStore(day.config.store.path)
    try:
        again = replay(day.config.alerting, store, day.start, day.end, [LogNotifier()])
    finally:
        store.close()
    assert again.evaluations == 0
    assert _replayed(day) == before


def test_the_report_names_the_rule_that_caught_each_fault(day: Day):
    store = SQLiteStore(day.config.store.path)
    try:
        report = build_report(load_inputs(day.config, store, day.start))
    finally:
        store.close()
    assert report.alerts and report.rule_times
    caught = {i.fault.kind: i.detected_by for i in report.incidents}
    assert set(caught) == {"index_dropped", "l2_down"}
    for kind, episode in caught.items():
        if episode is not None:
            assert episode.fault is not None and episode.fault.kind == kind
            assert episode.ttd_s is not None and episode.ttd_s >= 0
    assert any(caught.values())
