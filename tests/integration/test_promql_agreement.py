"""A real Prometheus and the embedded derivation agree on every catalog metric.

Prometheus scrapes the engine's four ``/metrics`` endpoints; the embedded side scrapes
the same endpoints with ``ExpositionCollector`` at both edges of one window. Every
catalog metric's PromQL (the expression Grafana panels and exported rules use) is
evaluated by Prometheus at the window's end over the window, and compared with
``Metric.derive`` over the same window.

The schedule makes both sides see the same counter increases: all traffic happens
well inside the window, so every counter is flat across both edges, and the embedded
snapshots (stamped with the window's edges) and Prometheus's first and last samples
in the window hold the same values. What remains is Prometheus's ``rate()``
extrapolation, which ``extrapolation.py`` bounds exactly from the scrape timestamps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from collectors.base import Collector
from collectors.exposition import ExpositionCollector
from collectors.relabel import TargetLabels
from engine.cluster import Cluster
from engine.config import CacheConfig, EngineConfig
from engine.traffic import Request, TrafficModel
from monitoring.catalog import RECORDED, Metric
from monitoring.clock import WallClock
from monitoring.expr import (
    Add,
    Agg,
    Div,
    Expr,
    Gauge,
    HistogramQuantile,
    OrZero,
    Rate,
    Scalar,
    Scale,
    Selector,
    Snapshot,
)
from tests.integration.extrapolation import Bounds, combined, rate_bounds
from tests.servers import PrometheusServer, require_binary

pytestmark = pytest.mark.slow

TARGETS = ("edge", "us", "eu", "asia")
SCRAPE_MS = 250  # short, so rate()'s extrapolation (about one interval) stays ~1 %
WINDOW_S = 20  # whole seconds: the PromQL window is spelled "20s"
QUIET_S = 1.5  # no traffic this long around each edge: >= 5 scrapes see flat counters
BURSTS = 4
WINDOW_REQUESTS = 400
# Windows tried before a schedule the machine cannot keep fails the test.
WINDOWS = 3
WARMUP_ROUNDS = 3  # the window's requests, sent this often before it (see _warm_up)
L1_MAX_ITEMS = 32  # small, so the window's traffic evicts: cache_evictions is not 0/0

# How a metric may differ follows from what its expression is made of (``_bound``):
#  gauges:     exact. Prometheus's last sample before the window's end and the
#              embedded snapshot at the end read the same frozen state.
#  process_*:  the engine process's own RSS, read by the two sides at different
#              instants while the test process allocates (parsing scrapes, HTTP):
#              DRIFT, 5 %, is a few MB.
#  rate():     each series is scaled by its target's extrapolation factor, within
#              [lo, hi] (``extrapolation.py``); all values are >= 0, so sums, max and
#              sums of sums keep that range, a quotient of two such terms moves by at
#              most hi/lo, and 100 * (1 - ratio) gets the same bound on its ratio.
#  quantiles:  histogram_quantile over bucket rates each scaled within [lo, hi]: the
#              interpolated cumulative counts move by the same factors, so the result
#              lies between the embedded quantiles at q * lo/hi and q * hi/lo.
FLOAT_EPS = 1e-9  # relative: float summation order differs between the two sides
DRIFT = 0.05


@dataclasses.dataclass
class Row:
    id: str
    kind: str
    prometheus: float | None
    embedded: float | None
    low: float = math.nan
    high: float = math.nan

    @property
    def rel_diff(self) -> float:
        if self.prometheus is None or self.embedded is None:
            return math.nan
        if self.prometheus == self.embedded:
            return 0.0
        return abs(self.prometheus - self.embedded) / max(abs(self.embedded), 1e-300)

    @property
    def ok(self) -> bool:
        if self.prometheus is None or self.embedded is None:
            return False
        return self.low <= self.prometheus <= self.high

    def line(self) -> str:
        def num(x: float | None) -> str:
            return "-" if x is None else f"{x:.6g}"

        status = "ok" if self.ok else "MISMATCH"
        return (
            f"{self.id:<22} {self.kind:<10} {num(self.prometheus):>12} "
            f"{num(self.embedded):>12} {self.rel_diff:>10.2e} "
            f"[{self.low:.6g}, {self.high:.6g}]  {status}"
        )


# -- the engine and Prometheus --------------------------------------------------------


@pytest.fixture(params=[1, 2], ids=["one-instance", "two-instances"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The default regions, each with one instance, or with two behind the edge."""
    regions = {name: r.model_copy(update={"instances": request.param})
               for name, r in EngineConfig().regions.items()}
    config = EngineConfig(cache=CacheConfig(l1_max_items=L1_MAX_ITEMS), regions=regions)
    c = Cluster(config, WallClock())
    try:
        yield c
    finally:
        c.close()


def _prometheus_config(urls: dict[str, str], regions: dict[str, str]) -> str:
    # An instance is labelled with its region's target; Prometheus adds ``instance``.
    jobs = "\n".join(
        f'      - targets: ["{urlsplit(url).netloc}"]\n'
        f'        labels: {{target: {regions.get(name, name)}}}'
        for name, url in urls.items()
    )
    return f"""
global: {{scrape_interval: {SCRAPE_MS}ms, scrape_timeout: {SCRAPE_MS}ms}}
scrape_configs:
  - job_name: engine
    static_configs:
{jobs}
"""


def _query(prom: PrometheusServer, promql: str, at: float) -> list[dict]:
    resp = requests.get(
        f"{prom.url}/api/v1/query", params={"query": promql, "time": f"{at:.3f}"}, timeout=10
    )
    body = resp.json()
    assert body.get("status") == "success", f"{promql}: {body}"
    return body["data"]["result"]


def _wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(0.1)


def _sleep_until(ts: float) -> None:
    delay = ts - time.time()
    if delay > 0:
        time.sleep(delay)


# -- traffic and snapshots ------------------------------------------------------------


def _send(cluster: Cluster, reqs: list[Request]) -> None:
    for r in reqs:
        cluster.request(r.region, r.method, r.path, r.body)


def _warm_up(cluster: Cluster, window_reqs: list[Request]) -> None:
    """Create, before the window, every series the window's traffic will touch.

    ``rate()`` on a series born inside the window counts its increase from its first
    sample, while the embedded rate (which needs a previous value) skips it; replaying
    the window's own requests, with the window's faults, gives every label set a value
    first. A few times over, so each counter's value at the window's start is large
    next to its increase in the window (see the zero rule in ``extrapolation.py``).
    """
    cluster.faults.start("builder_errors", "analyst", region="us", rate=0.5)
    cluster.faults.start("replica_lag", "eu")
    cluster.faults.start("l2_down", "asia")
    for _ in range(WARMUP_ROUNDS):
        _send(cluster, window_reqs)
    cluster.faults.stop("l2_down", "asia")
    cluster.faults.stop("replica_lag", "eu")
    cluster.faults.stop("builder_errors", "analyst")


def _snapshot(collectors: list[Collector], ts: float) -> Snapshot:
    """All targets' samples as one snapshot, stamped with the window edge ``ts``.

    The counters are flat around the edge, so the instant of the scrape within that
    quiet stretch does not matter; the edge is the instant Prometheus's window uses.
    """
    samples = []
    for collector in collectors:
        result = collector.collect()
        assert result.up, f"embedded scrape of {collector.target} failed: {result.reason}"
        samples.extend(result.samples)
    return Snapshot(ts, samples)


# -- comparison -----------------------------------------------------------------------


def _with_quantile(expr: Expr, q: float) -> Expr:
    if isinstance(expr, Scale):
        return dataclasses.replace(expr, inner=_with_quantile(expr.inner, q))
    assert isinstance(expr, HistogramQuantile), f"not a quantile expression: {expr!r}"
    return dataclasses.replace(expr, q=q)


def _quantile_of(expr: Expr) -> float | None:
    if isinstance(expr, HistogramQuantile):
        return expr.q
    return _quantile_of(expr.inner) if isinstance(expr, Scale) else None


def _factor(expr: Expr, b: Bounds) -> tuple[float, float]:
    """Range of prometheus / embedded for a non-negative, rate-built expression."""
    if isinstance(expr, Rate):
        return b.lo, b.hi
    if isinstance(expr, Gauge):
        drift = DRIFT if expr.selector.name.startswith("process_") else 0.0
        return 1 - drift, 1 + drift
    if isinstance(expr, Scalar):
        return 1.0, 1.0
    if isinstance(expr, Agg):
        return (1.0, 1.0) if expr.op == "count" else _factor(expr.inner, b)
    if isinstance(expr, OrZero):
        return _factor(expr.inner, b)
    if isinstance(expr, Scale) and not expr.complement:
        return _factor(expr.inner, b)
    if isinstance(expr, Add):
        (a_lo, a_hi), (c_lo, c_hi) = _factor(expr.left, b), _factor(expr.right, b)
        return min(a_lo, c_lo), max(a_hi, c_hi)
    if isinstance(expr, Div):
        (n_lo, n_hi), (d_lo, d_hi) = _factor(expr.num, b), _factor(expr.den, b)
        return n_lo / d_hi, n_hi / d_lo
    raise AssertionError(f"no agreement bound for {type(expr).__name__}: extend _factor")


def _nodes(expr: Expr) -> Iterator[Expr]:
    yield expr
    for f in dataclasses.fields(expr):  # type: ignore[arg-type]
        child = getattr(expr, f.name)
        if dataclasses.is_dataclass(child) and not isinstance(child, Selector | type):
            yield from _nodes(child)


def _kind(expr: Expr) -> str:
    """A label for the report table."""
    nodes = list(_nodes(expr))
    if not any(isinstance(n, Rate) for n in nodes):
        process = any(
            isinstance(n, Gauge) and n.selector.name.startswith("process_") for n in nodes
        )
        return "process" if process else "gauge"
    divs = [n for n in nodes if isinstance(n, Div)]
    if any(any(isinstance(x, Rate) for x in _nodes(d.den)) for d in divs):
        return "ratio"
    return "rate"


def _bound(
    metric: Metric, embedded: float, b: Bounds, prev: Snapshot, cur: Snapshot
) -> tuple[str, float, float]:
    """(kind, low, high): where Prometheus's value must lie, given the embedded one."""
    expr = metric.expr
    if _quantile_of(expr) is not None:
        q = _quantile_of(expr)
        at = [min(1.0, q * f) for f in (b.ratio_lo, b.ratio_hi)]
        values = [_with_quantile(expr, x).evaluate(prev, cur) for x in at]
        flat = [v for vector in values for v in vector.values()]
        assert len(flat) == 2, f"{metric.id}: quantile bound not computable: {values}"
        kind, lo, hi = "quantile", min(flat), max(flat)
    elif isinstance(expr, Scale) and expr.complement:  # factor * (1 - r): bound r
        r = 1 - embedded / expr.factor
        f_lo, f_hi = _factor(expr.inner, b)
        kind, lo, hi = "1-ratio", expr.factor * (1 - r * f_hi), expr.factor * (1 - r * f_lo)
    else:
        f_lo, f_hi = _factor(expr, b)
        kind, lo, hi = _kind(expr), embedded * f_lo, embedded * f_hi
    lo, hi = min(lo, hi), max(lo, hi)
    slack = FLOAT_EPS * max(abs(lo), abs(hi))
    return kind, lo - slack, hi + slack


def test_prometheus_and_embedded_agree_on_every_catalog_metric(cluster: Cluster) -> None:
    require_binary("prometheus")
    urls = cluster.start_http()
    regions = cluster.config.instance_regions()
    assert {regions.get(t, t) for t in urls} == set(TARGETS)
    clock = WallClock()
    collectors: list[Collector] = []
    for t, url in urls.items():
        collector = ExpositionCollector(t, url + "/metrics", clock)
        region = regions.get(t, t)
        collectors.append(collector if region == t else TargetLabels(
            collector, {"target": region, "instance": t}))
    traffic = TrafficModel(cluster.config)
    now = time.time()
    window_reqs = traffic.requests_for(now - 6 * 3600, now)[:WINDOW_REQUESTS]
    assert len(window_reqs) == WINDOW_REQUESTS

    with PrometheusServer(_prometheus_config(urls, regions)) as prom:
        _wait_until(
            lambda: len(_query(prom, "up == 1", time.time())) == len(urls),
            30,
            "Prometheus to scrape all targets",
        )
        _warm_up(cluster, window_reqs)

        # A window whose schedule the machine could not keep (traffic running into the
        # quiet end, or a scrape missing its 250 ms deadline on a loaded machine) says
        # nothing about agreement: it is measured again, up to WINDOWS times.
        trouble = ""
        for _ in range(WINDOWS):
            # The window [start, end]: quiet edges, traffic in bursts in between.
            time.sleep(QUIET_S)
            start = round(time.time(), 3)
            snap_start = _snapshot(collectors, start)
            end = start + WINDOW_S
            gap = (WINDOW_S - 2 * QUIET_S - 1) / (BURSTS - 1)
            burst_times = [start + QUIET_S + i * gap for i in range(BURSTS)]
            per_burst = math.ceil(len(window_reqs) / BURSTS)
            for i, at in enumerate(burst_times):
                _sleep_until(at)
                if i == 0:
                    cluster.faults.start("builder_errors", "analyst", region="us", rate=0.5)
                if i == 1:
                    cluster.faults.start("replica_lag", "eu")
                    cluster.faults.start("l2_down", "asia")
                _send(cluster, window_reqs[i * per_burst : (i + 1) * per_burst])
                if i == 1:
                    cluster.faults.stop("l2_down", "asia")
                if i == BURSTS - 2:
                    cluster.faults.stop("replica_lag", "eu")
                    cluster.faults.stop("builder_errors", "analyst")
            traffic_done = time.time()
            if traffic_done >= end - QUIET_S:
                trouble = (f"traffic ran {traffic_done - (end - QUIET_S):.2f}s into the quiet "
                           "end of the window; the machine is too slow for this schedule")
                continue
            _sleep_until(end)
            snap_end = _snapshot(collectors, end)
            _sleep_until(end + 1.0)  # Prometheus has ingested every scrape up to ``end``

            window = f"{WINDOW_S}s"
            per_target = {}
            for t, url in urls.items():
                series = _query(prom, f'up{{instance="{urlsplit(url).netloc}"}}[{window}]', end)
                assert len(series) == 1, f"{t}: {series}"
                values = series[0]["values"]
                failed = [ts for ts, v in values if v != "1"]
                if failed:
                    trouble = f"Prometheus's scrapes of {t} failed at {failed}"
                    break
                times = [float(ts) for ts, _ in values]
                per_target[t] = rate_bounds(times, end - WINDOW_S, end)
            else:
                trouble = ""
                break
        assert not trouble, f"{WINDOWS} windows in a row missed their schedule; the last: {trouble}"
        bounds = combined(per_target.values())

        rows: list[Row] = []
        for metric_id, metric in RECORDED.items():
            result = _query(prom, metric.promql(window), end)
            assert len(result) <= 1, (
                f"{metric_id}: PromQL leaves {len(result)} series (labels not aggregated "
                f"away): {[r['metric'] for r in result]}"
            )
            prom_value = float(result[0]["value"][1]) if result else None
            embedded = metric.derive(snap_start, snap_end)
            row = Row(metric_id, "-", prom_value, embedded)
            if embedded is not None:
                row.kind, row.low, row.high = _bound(metric, embedded, bounds, snap_start, snap_end)
            rows.append(row)

    header = (
        f"{'metric':<22} {'kind':<10} {'prometheus':>12} {'embedded':>12} {'rel diff':>10} allowed"
    )
    factors = ", ".join(f"{t} [{b.lo:.4f}, {b.hi:.4f}]" for t, b in per_target.items())
    table = "\n".join(
        [f"rate() extrapolation factors: {factors}", header, *(r.line() for r in rows)]
    )
    print(f"\n{table}")

    no_data = [r.id for r in rows if r.prometheus is None or math.isnan(r.prometheus)]
    assert not no_data, f"Prometheus returned no data for {no_data}\n{table}"
    no_embedded = [r.id for r in rows if r.embedded is None]
    assert not no_embedded, f"no embedded value for {no_embedded}\n{table}"
    mismatched = [r.id for r in rows if not r.ok]
    # Precondition of the bounds: a series born inside the window counts in rate()
    # from its first sample but not in the embedded rate (see _warm_up).
    born = [
        (name, dict(key))
        for name in snap_end.names()
        for key in snap_end.series(name)
        if key not in snap_start.series(name)
    ]
    assert not mismatched, f"values disagree for {mismatched}; born in window: {born}\n{table}"
