"""The same backfill in the embedded store and in a real Prometheus: the same answers.

One backfill run writes the embedded store and records the raw scrapes; the raw
scrapes go through OpenMetrics and promtool into a Prometheus 2.42 on a loopback port,
and ``PrometheusStore`` reads every catalog metric back with its PromQL.

The span is 6 hours (ION_PROM_AGREEMENT_HOURS to change it): the engine is driven and
scraped for real every virtual minute, which costs about 30-50 ms per minute on a
small CI machine, so a full day alone takes most of a minute. The span holds one
fault of each kind, a region outage included.

Tolerance, per point on the 1-minute grid (values of both stores at the same t):
  |a - b| <= 1e-9 * max(|a|, |b|) + 1e-12, and a point in one store is in the other.
Both compute the same window (t - 5m, t]: the embedded derivation from the scrapes at
t - 5m and t, Prometheus's rate(x[5m]) from the samples at t - 5m ... t, six scrapes
exactly spanning the window, so rate() extrapolates by zero (extrapolation.py: the
factor is (span + 0 + 0) / span = 1); what remains is float summation order.

Excluded, by design: points whose window holds a series that is missing at t - 5m or
at t but present in between (a label set seen for the first time, a target that failed
its scrape). There Prometheus extrapolates the partial series while the embedded
derivation (a rate needs the series at both ends) leaves it out. The test counts them
and requires them to stay rare.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from alerts.baseline import read_history
from alerts.rules import RULE_SPECS, Rule
from alerts.tuner import Proposal, propose_rule, tune_rule
from dashboards.data import load_dashboard_data
from dashboards.definitions import OVERVIEW
from monitoring.app.backfill import run_backfill
from monitoring.app.config import Config, parse_config
from monitoring.app.promconfig import JOB, create_blocks
from monitoring.app.report import generate
from monitoring.catalog import CATALOG, FAULT_SERIES, RECORDED
from monitoring.expr import HistogramQuantile
from monitoring.groundtruth import FaultLog
from monitoring.openmetrics import OpenMetricsRecorder, sample_names
from monitoring.scrape import CycleResult
from monitoring.store.base import Series
from monitoring.store.prometheus import PrometheusStore
from monitoring.store.sqlite import SQLiteStore
from monitoring.timerange import WEEK_S, week_start
from renderers.grafana import burn_expr, remaining_expr
from tests.app.report.helpers import key_metrics
from tests.servers import PrometheusServer, require_binary

pytestmark = pytest.mark.slow

HOURS = float(os.environ.get("ION_PROM_AGREEMENT_HOURS", "6"))
WINDOW_S = 300.0
STEP_S = 60.0
# Blocks from promtool hold no staleness markers (a live Prometheus writes one when a
# scrape fails): a lookback under the scrape interval makes a failed scrape read as
# no sample at once, as it does live and in the embedded store.
LOOKBACK = "59s"
REL_TOL, ABS_TOL = 1e-9, 1e-12
MAX_TIES = 0.05  # of a quantile's points, where its rank sits on a bucket bound
MAX_EXCLUDED = 0.20  # of a metric's points (most are in the first minutes of the span)
THRESHOLD_REL_TOL = 1e-9  # see test_tuner_proposes_the_same_thresholds
# The budget panel sums the same per-minute values budget_at sums: float order only.
BUDGET_REL_TOL, BUDGET_ABS_TOL = 1e-9, 1e-12

FAULTS = [
    {"kind": "l1_flush", "target": "us", "at": "1h", "duration": "1m"},
    {"kind": "l2_down", "target": "us", "at": "1h30m", "duration": "20m"},
    {"kind": "builder_errors", "target": "us/analyst", "at": "2h30m", "duration": "20m",
     "params": {"rate": 0.3}},
    {"kind": "replica_lag", "target": "eu", "at": "3h30m", "duration": "30m"},
    {"kind": "region_down", "target": "asia", "at": "4h40m", "duration": "10m"},
]


class _Prometheus(PrometheusServer):
    """Serves blocks written before start; keeps them however old they are."""

    def _flags(self) -> list[str]:
        return [*super()._flags(), "--storage.tsdb.retention.time=3650d",
                f"--query.lookback-delta={LOOKBACK}"]


@dataclasses.dataclass
class Both:
    config: Config
    embedded: SQLiteStore
    prometheus: PrometheusStore
    faults: FaultLog
    start: float
    end: float
    cycles: np.ndarray  # scrape times
    presence: dict[str, np.ndarray]  # sample name -> (series x cycles) present
    bounds: dict[str, np.ndarray]  # histogram bucket name -> its upper bounds (le)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    require_binary("prometheus")
    require_binary("promtool")
    tmp = tmp_path_factory.mktemp("agreement")
    config = parse_config({
        "store": {"path": str(tmp / "ionmon.db")},
        "backfill": {"warmup": "30m", "faults": FAULTS},
        "alerts": {"rules_path": str(tmp / "rules.yaml"), "state_path": str(tmp / "alerts.db")},
        "output_dir": str(tmp / "out"),
    })
    end = week_start(time.time())
    start = end - HOURS * 3600
    embedded, faults = SQLiteStore(config.store.path, retention_s=None), FaultLog(config.store.path)
    recorder = OpenMetricsRecorder({"job": JOB})
    seen: list[tuple[float, set[tuple]]] = []

    def on_cycle(cycle: CycleResult) -> None:
        recorder.add_results(cycle.results)
        seen.append((cycle.ts, {(s.name, r.target, tuple(sorted(s.labels.items())))
                                for r in cycle.results for s in r.samples}))

    run_backfill(config, embedded, faults, start, HOURS / 24, on_cycle=on_cycle)  # type: ignore[arg-type]
    recorder.add_faults(faults.between(start, end), STEP_S)
    export = tmp / "backfill.om"
    with export.open("w") as fh:
        recorder.write(fh)
    server = _Prometheus("global: {scrape_interval: 1m}\n")
    try:
        create_blocks(export, server.dir / "tsdb")
        server.start()
        prometheus = PrometheusStore(server.url, clock=lambda: end)
        yield Both(config, embedded, prometheus, faults, start, end,
                   *_presence(seen))
        prometheus.close()
    finally:
        server.close()
        embedded.close()
        faults.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _presence(seen: list[tuple[float, set[tuple]]]
              ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    cycles = np.array([ts for ts, _ in seen])
    keys = sorted(set().union(*(keys for _, keys in seen)))
    index = {k: i for i, k in enumerate(keys)}
    matrix = np.zeros((len(keys), len(seen)), dtype=bool)
    for j, (_, present) in enumerate(seen):
        matrix[[index[k] for k in present], j] = True
    by_name: dict[str, list[int]] = {}
    for k, i in index.items():
        by_name.setdefault(k[0], []).append(i)
    bounds: dict[str, set[float]] = {}
    for name, _, labels in keys:
        if name.endswith("_bucket"):
            bounds.setdefault(name, set()).add(float(dict(labels)["le"]))
    return (cycles, {name: matrix[rows] for name, rows in by_name.items()},
            {name: np.array(sorted(b)) for name, b in bounds.items()})


def _excluded(both: Both, metric_id: str, grid: np.ndarray) -> np.ndarray:
    """Grid times whose window holds a series missing at an end but present inside."""
    per = int(WINDOW_S // STEP_S)
    bad = np.zeros(len(grid), dtype=bool)
    col = np.searchsorted(both.cycles, grid)
    assert np.all(both.cycles[col] == grid) and np.all(col >= per)
    for name in sample_names(RECORDED[metric_id].expr):
        p = both.presence.get(name)
        if p is None:
            continue
        inside = np.stack([p[:, col - k] for k in range(per + 1)]).any(axis=0)
        ends = p[:, col] & p[:, col - per]
        bad |= (inside & ~ends).any(axis=0)
    return bad


def _bucket_tie(both: Both, metric_id: str, va: np.ndarray, vb: np.ndarray,
                excluded: np.ndarray) -> np.ndarray:
    """Quantile points where the two differ by which bucket a rank on a bound falls in.

    When q * total equals a cumulative bucket count, float summation order (each side
    sums the series' bucket rates in its own order) decides the bucket, and the result
    jumps from one bucket bound to the next. Allowed when both values are bounds.
    """
    expr = RECORDED[metric_id].expr
    names = [n for n in sample_names(expr) if n.endswith("_bucket")]
    if not names or not isinstance(getattr(expr, "inner", expr), HistogramQuantile):
        return np.zeros(len(va), dtype=bool)
    bounds = both.bounds[names[0]] * getattr(expr, "factor", 1.0)

    def on_bound(v: np.ndarray) -> np.ndarray:
        return np.isclose(v[:, None], bounds[None, :], rtol=1e-9).any(axis=1)

    tie = (va != vb) & ~excluded & on_bound(np.nan_to_num(va)) & on_bound(np.nan_to_num(vb))
    assert tie.mean() <= MAX_TIES, f"{metric_id}: {tie.sum()} bucket ties"
    return tie


def _on_grid(series, grid: np.ndarray) -> np.ndarray:
    out = np.full(len(grid), np.nan)
    out[np.searchsorted(grid, series.ts)] = series.values
    return out


def test_every_recorded_series_agrees(both: Both) -> None:
    grid = np.arange(both.start + STEP_S, both.end + STEP_S / 2, STEP_S)
    ids = list(RECORDED)  # the 25 metrics and the SLI series
    a = both.embedded.read_many(ids, both.start + STEP_S, both.end)
    b = both.prometheus.read_many(ids, both.start + STEP_S, both.end)
    lines, failures = [], []
    for mid in ids:
        va, vb = _on_grid(a[mid], grid), _on_grid(b[mid], grid)
        excluded = _excluded(both, mid, grid)
        both_nan = np.isnan(va) & np.isnan(vb)
        close = np.isclose(va, vb, rtol=REL_TOL, atol=ABS_TOL) | both_nan | (va == vb)
        wrong = ~close & ~excluded & ~_bucket_tie(both, mid, va, vb, excluded)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(va == vb, 0.0, np.abs(va - vb) / np.maximum(np.abs(va), np.abs(vb)))
        kept = ~excluded & ~both_nan
        worst = float(np.nanmax(rel[kept])) if kept.any() else 0.0
        lines.append(f"{mid:<22} points {int((~np.isnan(va)).sum()):5d} "
                     f"excluded {int(excluded.sum()):4d} worst rel diff {worst:.1e} "
                     f"wrong {int(wrong.sum())}")
        if wrong.any() or excluded.mean() > MAX_EXCLUDED or np.isnan(va).all():
            i = int(np.argmax(wrong)) if wrong.any() else 0
            failures.append(f"{mid}: e.g. at +{(grid[i] - both.start) / 60:.0f} min "
                            f"embedded {va[i]} prometheus {vb[i]}")
    table = "\n".join(lines)
    print(f"\n{table}")
    assert not failures, "\n".join(failures) + "\n" + table


def _rules_agree(a, b) -> list[str]:
    out = []
    for ba, bb in zip(a.bounds, b.bounds, strict=True):
        va = np.array(ba.hourly if ba.hourly is not None else [ba.value], dtype=float)
        vb = np.array(bb.hourly if bb.hourly is not None else [bb.value], dtype=float)
        if (ba.op, ba.metric) != (bb.op, bb.metric) or va.shape != vb.shape or not np.allclose(
                va, vb, rtol=THRESHOLD_REL_TOL, atol=1e-9):
            out.append(f"{a.id}: {ba.metric} {ba.op} {va.tolist()} vs {bb.op} {vb.tolist()}")
    return out


def test_tuner_proposes_the_same_thresholds(both: Both) -> None:
    """The same k and thresholds (to float rounding, before they are rounded for
    people) from the same points of either store.

    Both histories leave out the points the stores differ on by design (see the test
    above); fed those too, the back-test's choice of k, a discrete pick, can flip for a
    rule whose metric sits on a bucket bound (seen: slow_db_queries, k 12 vs 10)."""
    settings = both.config.alerts
    metrics = sorted({m for s in RULE_SPECS for m in s.metrics})
    excluded = _by_design(both)
    histories = [read_history(store, metrics, both.start + STEP_S, both.end, both.faults,
                              step=STEP_S)
                 for store in (both.embedded, both.prometheus)]
    for h in histories:
        for m in metrics:
            h.values[m][np.isin(h.ts, excluded[m])] = np.nan
    # The same points: a region's series has a value in one store and none in the other
    # for a minute or two around its region's outage (seen: cpu_usage_asia, 4 points).
    for m in metrics:
        missing = np.isnan(histories[0].values[m]) | np.isnan(histories[1].values[m])
        for h in histories:
            h.values[m][missing] = np.nan
    proposals = [
        {s.id: p for s in RULE_SPECS if (p := tune_rule(
            s, h.ts, h.values, h.faults, settings.k_grid,
            settings.max_false_alarms_per_day)) is not None}
        for h in histories]
    assert proposals[0], "the tuner proposed nothing from the embedded store"
    assert proposals[0].keys() == proposals[1].keys()
    chosen = {rid: (p.chosen.k, proposals[1][rid].chosen.k) for rid, p in proposals[0].items()}
    problems = [msg for rid in proposals[0] for msg in _rules_agree(
        _unrounded(proposals[0][rid]), _unrounded(proposals[1][rid]))]
    assert not problems, f"{problems}; chosen k (embedded, prometheus): {chosen}"
    assert all(k == ours for k, ours in chosen.values()), chosen
    assert {r: p.status for r, p in proposals[0].items()} == {
        r: p.status for r, p in proposals[1].items()}


def _unrounded(p: Proposal) -> Rule:
    """The proposal's rule before its thresholds were rounded."""
    if p.status == "target":  # the catalog's own round numbers
        return p.rule
    return propose_rule(p.spec, p.baselines, p.chosen.k, tail=p.status != "chosen")


class _Comparable:
    """A store's raw reads over what both stores hold alike.

    Kept out: times before the backfill's first recorded minute (the export holds the
    scrapes that prime the first window, so Prometheus has values at the five minutes
    before it, which the embedded store never recorded), and the points
    test_every_catalog_metric_agrees excludes by design (a series missing at one end
    of the window, a quantile's rank on a bucket bound). The report reads the whole
    week, so it gets both stores over the same points and must then say the same.
    """

    def __init__(self, store, start: float, excluded: dict[str, np.ndarray]) -> None:
        self.store, self.start, self.excluded = store, start, excluded

    def read_many(self, series, start, end, step=None):
        assert step is None, "the report reads raw samples"
        out = {}
        for k, v in self.store.read_many(series, start, end).items():
            keep = (v.ts > self.start) & ~np.isin(v.ts, self.excluded[k])
            out[k] = Series(k, v.ts[keep], v.values[keep])
        return out


def _by_design(both: Both) -> dict[str, np.ndarray]:
    """Per metric, the grid times test_every_recorded_series_agrees lets differ."""
    grid = np.arange(both.start + STEP_S, both.end + STEP_S / 2, STEP_S)
    a = both.embedded.read_many(list(RECORDED), both.start + STEP_S, both.end)
    b = both.prometheus.read_many(list(RECORDED), both.start + STEP_S, both.end)
    out = {}
    for mid in RECORDED:
        va, vb = _on_grid(a[mid], grid), _on_grid(b[mid], grid)
        excluded = _excluded(both, mid, grid)
        out[mid] = grid[excluded | _bucket_tie(both, mid, va, vb, excluded)]
    return out


def test_report_key_metrics_table_is_the_same(both: Both, tmp_path: Path) -> None:
    week = both.end - WEEK_S
    tables = []
    excluded = _by_design(both)
    embedded = _Comparable(both.embedded, both.start, excluded)
    prometheus = _Comparable(both.prometheus, both.start, excluded)
    for name, store in (("embedded", embedded), ("prometheus", prometheus)):
        _, written = generate(both.config, store, week, tmp_path / name)
        tables.append(key_metrics(Path(written.markdown).read_text()))
    diff = {m: (tables[0][m], tables[1][m]) for m in tables[0] if tables[0][m] != tables[1][m]}
    assert not diff, "\n".join(f"{m}:\n  {a}\n  {b}" for m, (a, b) in diff.items())
    assert len(tables[0]) == len(CATALOG)


def _instant(both: Both, promql: str) -> float | None:
    resp = requests.get(f"{both.prometheus.url}/api/v1/query",
                        params={"query": promql, "time": repr(both.end)}, timeout=60)
    resp.raise_for_status()
    result = resp.json()["data"]["result"]
    assert len(result) <= 1, promql
    return float(result[0]["value"][1]) if result else None


def test_grafana_budget_panel_computes_budgets_as_budget_at(both: Both) -> None:
    """The Grafana budget panel's PromQL, run in Prometheus over the raw series, gives
    what ``alerts.burn.budget_at`` gives over the same server's per-minute series: budget
    left (request-weighted, scaled by the window's coverage) and every burn rate."""
    data = load_dashboard_data(OVERVIEW, both.prometheus, both.start, both.end)
    assert len(data.budgets) == 5
    burning = 0
    for view in data.budgets:
        slo, b = view.slo, view.budget
        assert slo is not None and b.remaining is not None
        left = _instant(both, remaining_expr(slo))
        assert left == pytest.approx(b.remaining, rel=BUDGET_REL_TOL, abs=BUDGET_ABS_TOL), slo.name
        for w, rate in b.burn:
            got = _instant(both, burn_expr(slo, w))
            assert rate is not None and got == pytest.approx(
                rate, rel=BUDGET_REL_TOL, abs=BUDGET_ABS_TOL), (slo.name, w)
            burning += rate > 0
    assert burning  # the faults burn some budget: the comparison is not of zeros only


def test_the_fault_series_marks_every_injected_fault(both: Both) -> None:
    """What Grafana's fault annotation reads: ``FAULT_SERIES > 0`` at exactly the scrape
    minutes each fault of the fault log lasted."""
    resp = requests.get(f"{both.prometheus.url}/api/v1/query_range", timeout=60, params={
        "query": f"{FAULT_SERIES} > 0", "start": repr(both.start), "end": repr(both.end),
        "step": repr(STEP_S)})
    resp.raise_for_status()
    got = {(r["metric"]["kind"], r["metric"]["target"]): [float(t) for t, _ in r["values"]]
           for r in resp.json()["data"]["result"]}
    records = both.faults.between(both.start, both.end)
    assert {(f.kind, f.target) for f in records} == set(got) and len(got) == len(FAULTS)
    for f in records:
        first = np.ceil(f.start / STEP_S) * STEP_S
        want = np.arange(first, f.end, STEP_S)
        assert got[(f.kind, f.target)] == want[want <= both.end].tolist(), f
