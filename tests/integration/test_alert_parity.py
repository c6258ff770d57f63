"""The same alerts from Prometheus as from the embedded evaluator, rule by rule.

One ``ionmon export-openmetrics --days 1 --end <Monday> --blocks`` (a fault for every rule kind)
backfills the embedded store, writes the raw scrapes as OpenMetrics and turns them into
blocks with promtool, with blocks of the exported SLO recording rules beside them
(``create_rule_blocks``: promtool's ``create-blocks-from rules``, in dependency stages),
since Prometheus never evaluates rules over imported history. A real Prometheus 2.42
then serves both.

For every tuned rule (tuned on the same day) and every SLO burn-rate rule, its exported
alert expression is run by Prometheus over the range at the scrape interval, and its
``for:`` applied as Prometheus applies it (``alerts.backtest.firing``); the embedded
side is the back-test of the same rule over the embedded store. Every episode must be
matched by one of the other side's, starts within one scrape interval.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from alerts.backtest import Episode, condition, episodes, firing
from alerts.baseline import History, read_history
from alerts.export import rule_expr
from alerts.rules import RULE_SPECS, Rule
from alerts.slo import default_slos
from alerts.slo_export import alerting_rules
from alerts.slo_rules import condition_series, read_indicator, slo_rules
from alerts.tuner import tune
from monitoring import catalog
from monitoring.app.config import parse_config
from monitoring.groundtruth import FaultLog
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import week_start
from tests.servers import PrometheusServer, require_binary

pytestmark = pytest.mark.slow

HOURS = 24.0
ROOT = Path(__file__).resolve().parents[2]
STEP_S = 60.0
# As in the agreement test: blocks hold no stale markers, so a lookback under the
# scrape interval makes a failed scrape read as no sample at once, as it does live.
LOOKBACK = "59s"
FAULTS = [  # one for each kind a rule is written to catch, spread over the day
    {"kind": "network_delay", "target": "us", "at": "1h", "duration": "30m"},
    {"kind": "builder_errors", "target": "us/analyst", "at": "2h30m", "duration": "20m",
     "params": {"rate": 0.3}},
    {"kind": "region_down", "target": "asia", "at": "4h", "duration": "10m"},
    {"kind": "l1_flush", "target": "us", "at": "5h30m", "duration": "1m"},
    {"kind": "replica_lag", "target": "eu", "at": "7h", "duration": "30m"},
    {"kind": "index_dropped", "target": "us", "at": "9h", "duration": "30m"},
    {"kind": "traffic_surge", "target": "all", "at": "11h", "duration": "30m"},
    {"kind": "cpu_hog", "target": "us", "at": "13h", "duration": "30m"},
    {"kind": "l2_down", "target": "us", "at": "15h", "duration": "20m"},
    {"kind": "builder_errors", "target": "eu/analyst", "at": "19h", "duration": "40m",
     "params": {"rate": 0.3}},
]


class _Prometheus(PrometheusServer):
    def _flags(self) -> list[str]:
        return [*super()._flags(), "--storage.tsdb.retention.time=3650d",
                f"--query.lookback-delta={LOOKBACK}"]


@dataclass
class Run:
    history: History  # the embedded store on the scrape grid
    embedded: SQLiteStore
    server: _Prometheus
    tuned: list[Rule]
    start: float
    end: float


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    require_binary("prometheus")
    require_binary("promtool")
    tmp = tmp_path_factory.mktemp("parity")
    doc = {
        "store": {"path": str(tmp / "ionmon.db")},
        "backfill": {"warmup": "30m", "faults": FAULTS},
        "alerts": {"rules_path": str(tmp / "rules.yaml"), "state_path": str(tmp / "alerts.db")},
    }
    config = parse_config(doc)
    (tmp / "config.yaml").write_text(json.dumps(doc))
    end = week_start(time.time())
    start = end - HOURS * 3600
    server = _Prometheus("global: {scrape_interval: 1m}\n")
    embedded = faults = None
    try:
        done = subprocess.run(
            [sys.executable, "-m", "monitoring", "--config", str(tmp / "config.yaml"),
             "export-openmetrics", "--days", "1", "--end", f"{end:.0f}",
             "--out", str(tmp / "backfill.om"),
             "--blocks", str(server.dir / "tsdb")],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=tmp, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        embedded = SQLiteStore(config.store.path, retention_s=None)
        faults = FaultLog(config.store.path)
        metrics = sorted({m for s in RULE_SPECS for m in s.metrics})
        history = read_history(embedded, metrics, start + STEP_S, end, faults, step=STEP_S)
        settings = config.alerts
        tuned = [p.rule for p in tune(RULE_SPECS, history.ts, history.values, history.faults,
                                      settings.k_grid, settings.max_false_alarms_per_day)
                 if not p.rule.disabled]
        server.start()
        yield Run(history, embedded, server, tuned, start, end)
    finally:
        server.close()
        for opened in (embedded, faults):
            if opened is not None:
                opened.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _firing_times(server: _Prometheus, expr: str, start: float, end: float) -> set[float]:
    """Times on the scrape grid where Prometheus's alert expression returns anything."""
    query = urllib.parse.urlencode({"query": expr, "start": f"{start:.0f}",
                                    "end": f"{end:.0f}", "step": f"{STEP_S:.0f}"})
    with urllib.request.urlopen(f"{server.url}/api/v1/query_range?{query}",
                                timeout=120) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return {float(t) for series in body["data"]["result"] for t, _ in series["values"]}


def _prometheus_episodes(run: Run, expr: str, for_s: float, ts: np.ndarray,
                         keep_s: float = 0.0) -> list[Episode]:
    hit = _firing_times(run.server, expr, float(ts[0]), float(ts[-1]))
    cond = np.array([t in hit for t in ts.tolist()])
    return episodes(firing(cond, ts, for_s, keep_s), ts)


def _embedded_slo_episodes(run: Run) -> dict[str, tuple[list[Episode], np.ndarray]]:
    out = {}
    rules = {r.id: r for r in slo_rules(default_slos())}
    for slo in default_slos():
        ts, values, weights = read_indicator(run.embedded, slo, run.start, run.end)
        series = condition_series(slo, ts, values, weights)
        for rid, rule in rules.items():
            if rule.labels["slo"] == slo.name:
                fire = firing(condition(rule, ts, series), ts, rule.for_s)
                out[rid] = (episodes(fire, ts), ts)
    return out


def _matched(a: list[Episode], b: list[Episode]) -> tuple[bool, float]:
    """Same count, pairwise starts within a scrape interval; the largest start gap."""
    if len(a) != len(b):
        return False, float("inf")
    gaps = [abs(x.start - y.start) for x, y in zip(a, b, strict=True)]
    return all(g <= STEP_S for g in gaps), max(gaps, default=0.0)


def _report(title: str, rows: list[tuple[str, int, int, float]]) -> str:
    table = "\n".join(f"  {rid:28} embedded {a:2}  prometheus {b:2}  max start gap {g:5.0f} s"
                      for rid, a, b, g in rows)
    print(f"\n{title} over {HOURS:g} h, {len(FAULTS)} faults:\n{table}")
    return table


def test_tuned_rules_fire_the_same_episodes_in_prometheus(run: Run) -> None:
    rows: list[tuple[str, int, int, float]] = []
    problems = []
    ts = run.history.ts
    assert run.tuned, "the tuner proposed no rule from the day"
    for rule in run.tuned:
        ours = episodes(firing(condition(rule, ts, run.history.values), ts, rule.for_s,
                               rule.keep_firing_s), ts)
        theirs = _prometheus_episodes(run, rule_expr(rule), rule.for_s, ts, rule.keep_firing_s)
        ok, gap = _matched(ours, theirs)
        rows.append((rule.id, len(ours), len(theirs), gap))
        if not ok:
            problems.append(f"{rule.id}: embedded {ours} prometheus {theirs}")
    table = _report("tuned rules", rows)
    assert not problems, "\n".join(problems) + "\n" + table
    assert sum(a for _, a, _, _ in rows) >= 4, table  # the faults did fire rules


def test_slo_rules_fire_the_same_episodes_in_prometheus(run: Run) -> None:
    """The SLO ratios: Prometheus's exact rate over each window against the embedded
    store's request-weighted minutes. Those sum every minute's 5-minute ratio, so a
    window reaches four minutes further back; over this day every episode still starts
    within a scrape of Prometheus's, but a one-minute spike of a 5m window can differ
    (seen on a 6-hour evening span: slo_availability_page fired twice more, briefly, in
    Prometheus)."""
    rows: list[tuple[str, int, int, float]] = []
    problems = []
    exported = {r["alert"]: r["expr"] for slo in default_slos() for r in alerting_rules(slo)}
    for rid, (ours, slo_ts) in _embedded_slo_episodes(run).items():
        theirs = _prometheus_episodes(run, exported[rid], 0.0, slo_ts)
        ok, gap = _matched(ours, theirs)
        rows.append((rid, len(ours), len(theirs), gap))
        if not ok:
            problems.append(f"{rid}: embedded {ours} prometheus {theirs}")
    table = _report("SLO burn-rate rules", rows)
    assert not problems, "\n".join(problems) + "\n" + table


def test_the_export_holds_the_slo_series_over_the_whole_range(run: Run) -> None:
    """Loaded from the export alone, Prometheus has every SLO's recorded ratios and
    budget from the range's first minutes to its end (less the minutes a region's own
    SLO has no requests to rate: the outage of asia)."""
    expected = 0.98 * (run.end - run.start) / STEP_S
    for slo in default_slos():
        for name in (catalog.SLO_BUDGET_REMAINING, catalog.slo_error_ratio("5m")):
            expr = f'{name}{{slo="{slo.name}"}}'
            # In CI a query has come back short twice (the last minute missing once, the
            # whole series once) while the same export read complete on every other
            # run; the server may still be merging the export's overlapping blocks
            # (raw scrapes, each stage of rules). Ask again before failing.
            for _ in range(3):
                times = _firing_times(run.server, expr, run.start + 10 * STEP_S, run.end)
                if len(times) >= expected and max(times) == run.end:
                    break
                time.sleep(5)
            assert len(times) >= expected, (expr, len(times))
            assert max(times) == run.end, expr
