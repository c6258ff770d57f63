"""The metric catalog: the only place a metric is spelled.

Each metric has an id, a title, a unit, a group, an optional target (its SLO), the
direction that is good, and one expression that yields both its PromQL and its
derivation from scraped samples. Everything else refers to metrics by id.

Beside the 25 metrics the dashboards show, a few *SLI series* are recorded for the
objectives alone (per-region request counts and the share of them under the latency
threshold), and *region series* for the alert rules (a region's CPU and DB query
times, which a fault in one region moves less in the total than in its own share):
they are spelled here the same way, stored and queried like any metric, and not
drawn as panels. ``drawn_as`` names the panel that shows each of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from monitoring.expr import (
    Add,
    Agg,
    Div,
    Expr,
    Gauge,
    HistogramQuantile,
    OrZero,
    Rate,
    Scale,
    Selector,
    Snapshot,
    m,
)

Direction = Literal["up", "down", "both"]
UNITS = ("ms", "s", "%", "req/s", "per s", "count", "MB", "cores", "regions")
GROUPS = ("latency", "traffic", "cache", "database", "resources")
REGIONS = ("us", "eu", "asia")


@dataclass(frozen=True)
class Target:
    """The objective a metric is held to: ``value op target`` is good."""

    op: Literal["<", "<=", ">", ">="]
    value: float

    def met(self, value: float) -> bool:
        return {
            "<": value < self.value,
            "<=": value <= self.value,
            ">": value > self.value,
            ">=": value >= self.value,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass(frozen=True)
class Metric:
    id: str
    title: str
    unit: str
    group: str
    good: Direction  # which way is better: "down" for latency, "up" for hit rates
    expr: Expr
    description: str
    target: Target | None = None

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"metric {self.id}: unknown unit {self.unit!r} (known: {UNITS})")
        if self.group not in GROUPS:
            raise ValueError(f"metric {self.id}: unknown group {self.group!r} (known: {GROUPS})")

    def promql(self, window: str = "5m") -> str:
        return self.expr.promql(window)

    def derive(self, prev: Snapshot, cur: Snapshot) -> float | None:
        """This metric's value over the interval between two scrapes; None without data."""
        vector = self.expr.evaluate(prev, cur)
        if not vector:
            return None
        value = next(iter(vector.values())) if len(vector) == 1 else math.nan
        return None if math.isnan(value) else value


# --- building blocks over the engine's raw series --------------------------------

def _sel(name: str, **eq: str) -> Selector:
    return Selector(name, tuple(m(k, "=", v) for k, v in eq.items()))


def _latency(q: float, region: str | None = None) -> Expr:
    sel = _sel("ion_http_request_duration_seconds", **({"region": region} if region else {}))
    return Scale(HistogramQuantile(q, sel), 1000)


def _sum_rate(name: str, *matchers) -> Expr:
    return Agg("sum", Rate(Selector(name, tuple(matchers))))


def _hits(tier: str) -> Expr:
    return _sum_rate("ion_cache_hits_total", m("tier", "=", tier))


def _lookups(tier: str) -> Expr:
    return Add(_hits(tier), _sum_rate("ion_cache_misses_total", m("tier", "=", tier)))


_REQUESTS = _sum_rate("ion_http_requests_total")
_SERVER_ERRORS = OrZero(_sum_rate("ion_http_requests_total", m("code", "=~", "5..")))
_EDGE_ALL = _sum_rate("ion_edge_requests_total")
_EDGE_FAILED = OrZero(_sum_rate("ion_edge_requests_total", m("code", "=~", "5..")))


def _metrics() -> list[Metric]:
    lat = [
        Metric("latency_p50", "Latency p50", "ms", "latency", "down", _latency(0.50),
               "Median request latency over all regions.", Target("<", 25)),
        Metric("latency_p95", "Latency p95", "ms", "latency", "down", _latency(0.95),
               "95th percentile request latency over all regions.", Target("<", 50)),
        Metric("latency_p99", "Latency p99", "ms", "latency", "down", _latency(0.99),
               "99th percentile request latency over all regions.", Target("<", 100)),
    ]
    lat += [
        Metric(f"latency_p95_{r}", f"Latency p95 {r.upper()}", "ms", "latency", "down",
               _latency(0.95, r), f"95th percentile request latency in region {r}.",
               Target("<", 50 if r != "asia" else 60))
        for r in REGIONS
    ]
    traffic = [
        Metric("request_rate", "Request rate", "req/s", "traffic", "both", _REQUESTS,
               "Requests per second served by all regions."),
        Metric("error_rate", "Error rate", "%", "traffic", "down",
               Scale(Div(_SERVER_ERRORS, _REQUESTS), 100),
               "Share of requests answered with a 5xx by the regions.", Target("<", 0.5)),
        Metric("availability", "Availability", "%", "traffic", "up",
               Scale(Div(_EDGE_FAILED, _EDGE_ALL), 100, complement=True),
               "Share of requests at the edge answered without a 5xx, "
               "counting requests to a region that is down.", Target(">=", 99.95)),
        Metric("builder_error_rate", "Worst builder error rate", "%", "traffic", "down",
               Scale(Agg("max", Div(
                   Agg("sum", Rate(Selector("ion_builder_errors_total")), ("builder",)),
                   Agg("sum", Rate(Selector("ion_builder_calls_total")), ("builder",)),
               )), 100),
               "Error rate of the prompt builder that fails most.", Target("<", 1)),
        Metric("l2_error_rate", "L2 failed lookups", "%", "traffic", "down",
               Scale(Div(_sum_rate("ion_cache_errors_total", m("tier", "=", "l2")),
                         Add(_lookups("l2"),
                             _sum_rate("ion_cache_errors_total", m("tier", "=", "l2")))), 100),
               "Share of L2 lookups that failed (L2 unreachable): each one falls through "
               "to the database.", Target("<", 1)),
    ]
    cache = [
        Metric("l1_hit_rate", "L1 hit rate", "%", "cache", "up",
               Scale(Div(_hits("l1"), _lookups("l1")), 100),
               "Share of lookups answered by the in-process L1 cache.", Target(">=", 20)),
        Metric("l2_hit_rate", "L2 hit rate", "%", "cache", "up",
               Scale(Div(_hits("l2"), _lookups("l2")), 100),
               "Share of L1 misses answered by the shared L2 cache.", Target(">=", 60)),
        Metric("cache_hit_rate", "Combined hit rate", "%", "cache", "up",
               Scale(Div(Add(_hits("l1"), _hits("l2")), _lookups("l1")), 100),
               "Share of lookups answered by either cache tier.", Target(">=", 60)),
        Metric("l1_items", "L1 items", "count", "cache", "up",
               Agg("sum", Gauge(_sel("ion_cache_items", tier="l1"))),
               "Entries held in L1 over all regions."),
        Metric("cache_evictions", "Cache evictions", "per s", "cache", "down",
               _sum_rate("ion_cache_evictions_total"),
               "Entries evicted per second by size limit, all tiers."),
    ]
    database = [
        Metric("db_query_p95", "DB query p95", "ms", "database", "down",
               Scale(HistogramQuantile(0.95, Selector("ion_db_query_duration_seconds")), 1000),
               "95th percentile database query time.", Target("<", 5)),
        Metric("db_pool_utilisation", "DB pool utilisation", "%", "database", "down",
               Scale(Div(_sum_rate("ion_db_pool_busy_seconds_total"),
                         Agg("sum", Gauge(Selector("ion_db_pool_size")))), 100),
               "Average share of pooled connections checked out.", Target("<", 80)),
        Metric("db_slow_queries", "Slow queries", "per s", "database", "down",
               _sum_rate("ion_db_slow_queries_total"),
               "Queries per second slower than the configured slow-query time."),
    ]
    database += [
        Metric(f"replication_lag_{r}", f"Replication lag {r.upper()}", "ms", "database", "down",
               Scale(Agg("max", Gauge(_sel("ion_db_replication_lag_seconds", region=r))), 1000),
               f"How far the {r} replica's data is behind the primary.", Target("<", 100))
        for r in REGIONS[1:]
    ]
    resources = [
        Metric("cpu_usage", "Engine CPU", "%", "resources", "down",
               Scale(_sum_rate("ion_cpu_seconds_total"), 100),
               "CPU time spent handling requests, in percent of one core."),
        Metric("memory_rss", "Memory RSS", "MB", "resources", "down",
               Scale(Agg("max", Gauge(Selector("process_resident_memory_bytes"))), 1 / 2**20),
               "Resident memory of the engine process."),
        Metric("regions_up", "Regions up", "regions", "resources", "up",
               # A region of several instances is up while one of them answers.
               Agg("sum", Agg("max", Gauge(Selector("up", (m("target", "=~", "|".join(REGIONS)),))),
                              ("target",))),
               "Regions whose metrics endpoint answered the last scrape.", Target(">=", 3)),
        Metric("l2_memory", "L2 memory", "MB", "resources", "down",
               Scale(Agg("max", Gauge(_sel("ion_cache_memory_bytes", tier="l2"))), 1 / 2**20),
               "Memory held by the shared L2 cache (every region reports the same store)."),
    ]
    return lat + traffic + cache + database + resources


FAST_S = 0.05  # the latency objective's threshold; a bucket bound of the engine's histogram


def _sli_series() -> list[Metric]:
    out = []
    for r in REGIONS:
        requests = _sum_rate("ion_http_requests_total", m("region", "=", r))
        # Counted from the histogram: its le="0.05" bucket over its count, so the share
        # is exact at the threshold rather than read off an interpolated quantile.
        fast = _sum_rate("ion_http_request_duration_seconds_bucket",
                         m("region", "=", r), m("le", "=", f"{FAST_S:g}"))
        seen = _sum_rate("ion_http_request_duration_seconds_count", m("region", "=", r))
        out += [
            Metric(f"requests_{r}", f"Requests {r.upper()}", "req/s", "traffic", "both",
                   requests, f"Requests per second served by region {r}."),
            Metric(f"fast_requests_{r}", f"Requests under {FAST_S * 1000:g} ms {r.upper()}",
                   "%", "latency", "up", Scale(Div(fast, seen), 100),
                   f"Share of region {r}'s requests answered within "
                   f"{FAST_S * 1000:g} ms."),
        ]
    return out


def _region_series() -> list[Metric]:
    """Per-region copies of catalog metrics that alert rules watch.

    A fault in one region is diluted in the total: the asia index drop (a fifth of
    the traffic, fewest queries at its night) or a CPU hog in one region moves the
    sum by its region's share only, and the other regions' noise hides it.
    """
    out = []
    for r in REGIONS:
        region = m("region", "=", r)
        out += [
            Metric(f"cpu_usage_{r}", f"Engine CPU {r.upper()}", "%", "resources", "down",
                   Scale(_sum_rate("ion_cpu_seconds_total", region), 100),
                   f"CPU time spent handling region {r}'s requests, in percent of one core."),
            Metric(f"db_query_p95_{r}", f"DB query p95 {r.upper()}", "ms", "database", "down",
                   Scale(HistogramQuantile(0.95, Selector("ion_db_query_duration_seconds",
                                                          (region,))), 1000),
                   f"95th percentile database query time in region {r}.", Target("<", 5)),
            Metric(f"db_slow_queries_{r}", f"Slow queries {r.upper()}", "per s", "database",
                   "down", _sum_rate("ion_db_slow_queries_total", region),
                   f"Queries per second slower than the slow-query time in region {r}."),
        ]
    return out


# Names of the recorded series the SLO rules write (Prometheus recording rules); every
# other module reads them from here.
SLO_RULE_PREFIX = "slo:"
SLO_BAD_MINUTE = "slo:sli_bad:minute"  # 1 when a minute misses a threshold objective
SLO_BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
# The export's series of injected faults (``kind``, ``target``): 1 while one lasts, 0 at
# its end, so Grafana annotates faults from Prometheus like alerts from ``ALERTS``.
FAULT_SERIES = "ionmon_fault"


def slo_error_ratio(window: str) -> str:
    """The recorded error ratio of an SLO over ``window`` (``5m``, ``1h``, ``28d``)."""
    return f"slo:sli_error:ratio_rate{window}"


def _build(metrics: list[Metric]) -> Mapping[str, Metric]:
    by_id: dict[str, Metric] = {}
    for metric in metrics:
        if metric.id in by_id:
            raise ValueError(f"duplicate metric id {metric.id!r} in the catalog")
        by_id[metric.id] = metric
    return by_id


CATALOG: Mapping[str, Metric] = _build(_metrics())  # the metrics dashboards show
SLI_SERIES: Mapping[str, Metric] = _build(_sli_series())  # recorded for the SLOs
REGION_SERIES: Mapping[str, Metric] = _build(_region_series())  # recorded for alert rules
RECORDED: Mapping[str, Metric] = _build(
    [*CATALOG.values(), *SLI_SERIES.values(), *REGION_SERIES.values()])


def get(metric_id: str) -> Metric:
    """A catalog metric or an SLI series by id."""
    try:
        return RECORDED[metric_id]
    except KeyError:
        known = ", ".join(RECORDED)
        raise KeyError(f"unknown metric {metric_id!r}; known metrics: {known}") from None


def drawn_as(metric_id: str) -> str:
    """The catalog metric whose panel shows ``metric_id``: itself, or for a region's
    copy (``db_query_p95_eu``) its total when that is in the catalog."""
    if metric_id in CATALOG:
        return metric_id
    for r in REGIONS:
        total = metric_id.removesuffix(f"_{r}")
        total = _TOTALS.get(total, total)
        if total != metric_id and total in CATALOG:
            return total
    return metric_id


# Region series whose total has another name.
_TOTALS = {"requests": "request_rate"}


def by_group() -> dict[str, list[Metric]]:
    out: dict[str, list[Metric]] = {g: [] for g in GROUPS}
    for metric in CATALOG.values():
        out[metric.group].append(metric)
    return out


def derive_all(prev: Snapshot, cur: Snapshot) -> dict[str, float]:
    """Every recorded series (catalog metrics, SLI and region series) with data over
    (prev, cur]."""
    out = {}
    for metric in RECORDED.values():
        value = metric.derive(prev, cur)
        if value is not None:
            out[metric.id] = value
    return out
