"""The five dashboards: who looks at them and what they need to see first."""

from __future__ import annotations

from collections.abc import Mapping

from dashboards.model import Dashboard, DashboardError, Panel, Row
from monitoring.catalog import CATALOG, REGIONS

_REGION_P95 = tuple(f"latency_p95_{r}" for r in REGIONS)
_TARGETED = tuple(m.id for m in CATALOG.values() if m.target is not None)


def _stats(*ids: str, width: int = 2) -> tuple[Panel, ...]:
    return tuple(Panel(CATALOG[i].title, "stat", (i,), width=width) for i in ids)


OVERVIEW = Dashboard(
    "overview", "Overview",
    "On-call view: is every objective met, what is firing, which regions are up.",
    (
        Row("Service level", _stats(
            "availability", "error_rate", "latency_p95", "latency_p99", "cache_hit_rate",
            "regions_up")),
        Row("Now", (
            Panel("Firing alerts", "alerts", alert_states=("firing", "pending"), width=6,
                  description="Alerts firing or about to fire."),
            Panel("Regions", "table", (*_REGION_P95, "regions_up"), width=6,
                  description="Latency p95 per region and how many regions answer."),
        )),
        Row("Error budgets", (
            Panel("Error budgets", "budget", width=12,
                  description="Each SLO over its window: budget left, burn rate per window "
                              "(1 = spending exactly the budget), time until it runs out at "
                              "the last hour's burn."),
        )),
        Row("Objectives", (
            Panel("SLO status", "table", _TARGETED, width=12,
                  description="Every metric with an objective: now, over the range, and "
                              "the share of the range the objective was met."),
        )),
        Row("Trends", (
            Panel("Availability", "timeseries", ("availability",), width=6),
            Panel("Latency p95 by region", "timeseries", _REGION_P95, width=6),
        )),
    ),
)

LATENCY = Dashboard(
    "latency", "Latency and traffic",
    "Request latency percentiles, per region, and the traffic and errors behind them.",
    (
        Row("Now", _stats("latency_p50", "latency_p95", "latency_p99", "request_rate",
                          "error_rate", "l2_error_rate")),
        Row("Latency", (
            Panel("Latency percentiles", "timeseries",
                  ("latency_p50", "latency_p95", "latency_p99"), width=6),
            Panel("Latency p95 by region", "timeseries", _REGION_P95, width=6),
        )),
        Row("Traffic", (
            Panel("Request rate", "timeseries", ("request_rate",), width=4),
            Panel("Error rate", "timeseries", ("error_rate",), width=4),
            Panel("Worst builder error rate", "timeseries", ("builder_error_rate",), width=4),
        )),
        Row("Regions", (
            Panel("Per region", "table", (*_REGION_P95, "availability", "regions_up"),
                  width=12),
        )),
    ),
)

CACHE = Dashboard(
    "cache", "Cache",
    "Both cache tiers: hit rates, evictions, entries held and the L2's memory.",
    (
        Row("Now", _stats("l1_hit_rate", "l2_hit_rate", "cache_hit_rate", "cache_evictions",
                          "l1_items", "l2_memory")),
        Row("Hit rates", (
            Panel("Hit rates", "timeseries", ("l1_hit_rate", "l2_hit_rate", "cache_hit_rate"),
                  width=8),
            Panel("Cache summary", "table",
                  ("l1_hit_rate", "l2_hit_rate", "cache_hit_rate", "cache_evictions"), width=4),
        )),
        Row("Capacity", (
            Panel("Evictions", "timeseries", ("cache_evictions",), width=4),
            Panel("L1 items", "timeseries", ("l1_items",), width=4),
            Panel("L2 memory", "timeseries", ("l2_memory",), width=4),
        )),
    ),
)

DATABASE = Dashboard(
    "database", "Database",
    "Query time, connection pool, slow queries and how far the replicas lag.",
    (
        Row("Now", (
            *_stats("db_query_p95", "db_pool_utilisation", width=3),
            *_stats("db_slow_queries", "replication_lag_eu", "replication_lag_asia"),
        )),
        Row("Queries", (
            Panel("Query p95", "timeseries", ("db_query_p95",), width=4),
            Panel("Pool utilisation", "timeseries", ("db_pool_utilisation",), width=4),
            Panel("Slow queries", "timeseries", ("db_slow_queries",), width=4),
        )),
        Row("Replication", (
            Panel("Replication lag", "timeseries", ("replication_lag_eu", "replication_lag_asia"),
                  width=8),
            Panel("Database summary", "table",
                  ("db_query_p95", "db_pool_utilisation", "db_slow_queries",
                   "replication_lag_eu", "replication_lag_asia"), width=4),
        )),
    ),
)

INFRASTRUCTURE = Dashboard(
    "infrastructure", "Infrastructure",
    "The engine's CPU and memory, the regions answering, and recent alerts.",
    (
        Row("Now", _stats("cpu_usage", "memory_rss", "regions_up", "l2_memory", width=3)),
        Row("Resources", (
            Panel("Engine CPU", "timeseries", ("cpu_usage",), width=4),
            Panel("Memory RSS", "timeseries", ("memory_rss",), width=4),
            Panel("Regions up", "timeseries", ("regions_up",), width=4),
        )),
        Row("Alerts", (
            Panel("Alert history", "alerts", alert_states=("firing", "pending", "resolved"),
                  width=12, description="Every alert seen over the range, newest first."),
        )),
    ),
)

DASHBOARDS: Mapping[str, Dashboard] = {
    d.name: d for d in (OVERVIEW, LATENCY, CACHE, DATABASE, INFRASTRUCTURE)
}


def get_dashboard(name: str) -> Dashboard:
    try:
        return DASHBOARDS[name]
    except KeyError:
        raise DashboardError(
            f"unknown dashboard {name!r}; known: {', '.join(DASHBOARDS)}"
        ) from None
