"""What to check when an alert fires: a link and a short list, for every rule and SLO.

The link points into ``docs/runbooks.md`` (one section per entry, generated from this
module by ``runbooks_markdown``). It is absolute, so it is a link in Alertmanager, Slack
and PagerDuty: ``alerts.runbook_base_url`` when set, else the page ``ionmon serve``
serves at ``RUNBOOKS_PATH`` on its configured address.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNBOOKS_PATH = "/docs/runbooks.md"  # where ``ionmon serve`` serves the page


def served_at(host: str, port: int) -> str:
    """The runbooks' URL on a ``serve`` address."""
    netloc = f"[{host}]" if ":" in host else host
    return f"http://{netloc}:{port}{RUNBOOKS_PATH}"


DEFAULT_BASE_URL = served_at("127.0.0.1", 8080)  # serve's default address


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    checks: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.checks:
            raise ValueError(f"runbook {self.id!r}: give at least one thing to check")

    def url(self, base: str = DEFAULT_BASE_URL) -> str:
        return f"{base}#{self.id.replace('_', '-')}"


_RULES = (
    Runbook("high_latency_p95", "p95 latency above its normal range", (
        "Cache dashboard: did L1 or L2 hit rate drop (misses go to the builders)?",
        "Database dashboard: query p95 and slow queries",
        "Latency p95 by region: one region or all?")),
    Runbook("high_error_rate", "5xx or prompt-builder errors above normal", (
        "Latency dashboard: which builder leads the worst builder error rate",
        "Recent deploys of that builder; roll back or disable it",
        "Error rate per region: one region or all?")),
    Runbook("low_availability", "Edge availability below normal", (
        "Regions up: is a region down?",
        "Error rate and worst builder error rate",
        "Edge logs for 5xx by region")),
    Runbook("low_cache_hit_rate", "Cache hit rate below normal", (
        "L1 items: a flush or restart empties L1",
        "L2 failed lookups: L2 unreachable sends every miss to the database",
        "Evictions: a size limit too small for the working set")),
    Runbook("replication_lag", "A read replica is behind the primary", (
        "Replica apply rate and the primary's write load",
        "Network between the primary and the replica's region",
        "Reads in that region may be stale: fail reads over if lag keeps growing")),
    Runbook("slow_db_queries", "Database queries slower than normal", (
        "Query plans against the last good ones: a sequential scan means a dropped index",
        "Pool utilisation: are queries queueing?",
        "Slow-query log for the statement that changed")),
    Runbook("traffic_anomaly", "Request rate outside its usual range for the hour", (
        "A drop: DNS, the edge, a region unreachable",
        "A surge: a retry storm (error rate up too) or a new client",
        "Compare with the same hour last week")),
    Runbook("resource_saturation", "CPU, memory or the DB pool above normal", (
        "Memory only growing: a leak; note the start time, restart if near the limit",
        "CPU with flat traffic: a hot loop after a deploy",
        "Real load: scale out")),
    Runbook("region_or_l2_down", "A region or the shared L2 cache is down", (
        "The region's health endpoint and its metrics endpoint",
        "The L2 cache server: reachable, memory, restarts",
        "Fail traffic over to the other regions")),
)

_SLOS = (
    Runbook("slo_availability", "Availability error budget burning", (
        "Which region returns 5xx: regions up, error rate per region",
        "Worst builder error rate: one failing builder can burn the budget",
        "Page: act now (2% of the month's budget per hour); ticket: fix this week")),
    Runbook("slo_latency", "Latency error budget burning", (
        "Requests under 50 ms and p95 latency by region: the SLO names the region",
        "Cache hit rates and DB query p95 in that region",
        "Replication lag: a lagging replica slows its region's reads")),
    Runbook("slo_cache", "Cache effectiveness budget burning", (
        "L1 items and L2 failed lookups: a flush or an L2 outage",
        "Evictions: working set larger than the cache",
        "Latency follows: check the latency SLOs")),
)

RUNBOOKS: dict[str, Runbook] = {r.id: r for r in (*_RULES, *_SLOS)}


def runbook_for(alert_or_slo: str) -> Runbook | None:
    """The runbook of a rule id, an SLO name, or an SLO alert (``slo_<name>_<kind>``)."""
    if alert_or_slo in RUNBOOKS:
        return RUNBOOKS[alert_or_slo]
    name = alert_or_slo.removeprefix("slo_").removesuffix("_page").removesuffix("_ticket")
    for key in (f"slo_{name}", f"slo_{name.split('_')[0]}"):
        if key in RUNBOOKS:
            return RUNBOOKS[key]
    return None


def runbooks_markdown() -> str:
    """The page the links point to."""
    lines = ["# Runbooks", "",
             "What to check first when an alert fires. Generated from `alerts/runbooks.py`.",
             ""]
    for r in RUNBOOKS.values():
        lines += [f"## {r.id.replace('_', '-')}", "", f"**{r.title}**", ""]
        lines += [f"1. {c}" for c in r.checks] + [""]
    return "\n".join(lines)
