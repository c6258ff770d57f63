"""The nine alert rules: what each watches, and the tuned thresholds as a file.

A ``RuleSpec`` is the fixed part (metrics by catalog id, ``for:``, severity, runbook,
the faults it should catch); a ``Rule`` adds the tuned ``Bound``s. Rules files are
YAML, validated on load: a bad file raises ``RulesFileError`` naming file and key.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from alerts.stats import HOURS, hour_of_day, is_weekend
from monitoring import catalog
from monitoring.durations import format_duration, parse_duration

Op = Literal[">", "<"]
# Once firing, an alert stays firing until its condition has been clear this long
# (Prometheus's ``keep_firing_for``): a symptom that dips under its threshold for a
# minute or two while the trouble lasts (an L1 refilling through a quiet night) is one
# page, not a resolve and a second page. Measured on five held-out weeks (seeds 7, 11,
# 23, 404, 505): low_cache_hit_rate paged 2, 1 and 1 false times on weeks 11, 404 and
# 505 without it, 1, 0 and 1 with 5 minutes; no other rule changed, nor any time to
# detect; on two weeks drawn after the choice (seeds 606, 707) it paged 0 and 0. Ten
# minutes merged a false blip seven minutes before a flush into that flush's page.
KEEP_FIRING_S = 5 * 60
# A rule with ``over`` compares the mean of each metric over that trailing window,
# sampled at this step (Prometheus: ``avg_over_time((expr)[15m:1m])``), so a count
# that a 5-minute rate leaves at Poisson noise is read over three times as many events.
OVER_STEP_S = 60.0
Severity = Literal["critical", "warning", "info"]
SEVERITIES = ("critical", "warning", "info")
RULES_VERSION = 1


class RulesFileError(ValueError):
    """A rules file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class RuleSpec:
    id: str
    metrics: tuple[str, ...]
    for_s: float
    severity: Severity
    summary: str
    runbook: str
    catches: tuple[str, ...] = ()  # fault kinds this rule should fire on
    keep_firing_s: float = KEEP_FIRING_S
    over_s: float = 0.0  # compare each metric's trailing mean over this window

    def __post_init__(self) -> None:
        for metric_id in self.metrics:
            catalog.get(metric_id)  # unknown ids fail at import, not at 3 a.m.


def bad_ops(metric_id: str) -> tuple[Op, ...]:
    """The comparisons that mean trouble: latency '>', hit rate '<', traffic both."""
    good = catalog.get(metric_id).good
    return {"down": (">",), "up": ("<",), "both": (">", "<")}[good]


def _per_region(metric_id: str) -> tuple[str, ...]:
    """The catalog's per-region series of ``metric_id``."""
    return tuple(f"{metric_id}_{r}" for r in catalog.REGIONS)


RULE_SPECS: tuple[RuleSpec, ...] = (
    RuleSpec("high_latency_p95", ("latency_p95",), 300, "warning",
             "p95 latency above its normal range",
             "Check the cache tiers first (an L2 outage sends every miss to the builders), "
             "then database query time.", ("network_delay",)),
    RuleSpec("high_error_rate", ("error_rate", "builder_error_rate"), 120, "critical",
             "5xx or prompt-builder errors above normal",
             "Find the failing builder in the builder error rate panel; roll back its "
             "last change or disable it.", ("builder_errors",)),
    RuleSpec("low_availability", ("availability",), 120, "critical",
             "Edge availability below normal",
             "A region may be down or returning 5xx: check regions up and error rate "
             "per region.", ("builder_errors", "region_down")),
    RuleSpec("low_cache_hit_rate", ("cache_hit_rate", "l1_hit_rate", "l1_items"), 120,
             "warning", "Cache hit rate or L1 contents below normal",
             "Look for a flush or restart of L1, or L2 unreachable; expect latency to follow.",
             ("l1_flush",)),
    RuleSpec("replication_lag", ("replication_lag_eu", "replication_lag_asia"), 120,
             "warning", "A read replica is behind the primary",
             "Check the replica's apply rate and the primary's write load; reads in "
             "that region may be stale.", ("replica_lag",)),
    # Per region: an index dropped in one region (asia, the fewest queries at its
    # night) moves the total's p95 too little to see.
    RuleSpec("slow_db_queries", _per_region("db_query_p95"), 300, "warning",
             "Database queries slower than normal",
             "Compare query plans with the last good ones; a dropped or invalid index "
             "shows as sequential scans.", ("index_dropped",)),
    # The total and each region: a drop in one region is a third of its own traffic
    # but a tenth of the total's. Read over 15 minutes and held for 5 (for 10 on the
    # 5-minute rate before): a region's night brings 3-8 requests a minute, where a drop
    # to a third sits near the rate's Poisson noise. Measured on seeds 7, 11 and 23,
    # loud faults caught 3/3, 3/3, 2/3 against 2/3, 3/3, 2/3 and subtle ones 4/9 against
    # 1/9, no false alarm either way; on weeks 404, 505, 606 and 707 (not used to choose)
    # 9/12 loud against 8/12, 7/12 subtle against 2/12. Held 10 minutes it paged falsely
    # on weeks 7 and 11; over 10 minutes it caught as much, later.
    RuleSpec("traffic_anomaly", ("request_rate", *_per_region("requests")), 300, "info",
             "Request rate outside its usual range for the hour",
             "A drop means clients cannot reach us (DNS, a region, the edge); a surge "
             "may be a retry storm or a new client.",
             ("traffic_surge", "traffic_drop", "traffic_sag"), over_s=15 * 60),
    RuleSpec("resource_saturation", ("cpu_usage", *_per_region("cpu_usage"), "memory_rss",
                                     "db_pool_utilisation"), 600,
             "warning", "CPU, memory or the DB pool above normal",
             "Look for a leak (memory only grows), a hot loop or connections never returned "
             "to the pool; scale out if load is real.",
             ("cpu_hog", "memory_leak", "db_pool_exhaustion")),
    RuleSpec("region_or_l2_down", ("regions_up", "l2_error_rate"), 60, "critical",
             "A region or the shared L2 cache is down",
             "Check the region's health endpoint and the L2 cache server; fail traffic "
             "over to the other regions.", ("region_down", "l2_down")),
)
SPECS_BY_ID = {spec.id: spec for spec in RULE_SPECS}


class Calendar:
    """Hour of day (UTC) per point of a grid, and whether it is the weekend on a given
    clock: worked out once for the many bounds read over one grid."""

    def __init__(self, ts: np.ndarray) -> None:
        self.ts = np.asarray(ts, dtype=float)
        self.hour = hour_of_day(self.ts)
        self._weekend: dict[int, np.ndarray] = {}

    def weekend(self, offset_h: int = 0) -> np.ndarray:
        if offset_h not in self._weekend:
            self._weekend[offset_h] = is_weekend(self.ts, offset_h)
        return self._weekend[offset_h]


def calendar_of(ts: np.ndarray) -> Calendar:
    return Calendar(ts)


# The clocks a weekend may be read on: UTC-12 to UTC+14.
MIN_OFFSET_H, MAX_OFFSET_H = -12, 14


@dataclass(frozen=True)
class Bound:
    """``metric op threshold`` is trouble; the threshold is flat or one per UTC hour.

    With ``weekend`` as well, ``hourly`` holds the weekday hours (Monday to Friday)
    and ``weekend`` those of Saturday and Sunday, on the clock ``weekend_offset_h``
    hours from UTC (a region's local weekend); the hours themselves are UTC.
    """

    metric: str
    op: Op
    value: float | None = None
    hourly: tuple[float, ...] | None = None
    weekend: tuple[float, ...] | None = None
    weekend_offset_h: int = 0

    def __post_init__(self) -> None:
        if (self.value is None) == (self.hourly is None):
            raise ValueError(f"bound on {self.metric}: give exactly one of value, hourly")
        if self.weekend is not None and self.hourly is None:
            raise ValueError(f"bound on {self.metric}: weekend needs hourly (the weekdays)")
        if not MIN_OFFSET_H <= self.weekend_offset_h <= MAX_OFFSET_H:
            raise ValueError(f"bound on {self.metric}: weekend_offset_h must be hours from "
                             f"UTC, {MIN_OFFSET_H} to {MAX_OFFSET_H}, got "
                             f"{self.weekend_offset_h}")
        for key, hours in (("hourly", self.hourly), ("weekend", self.weekend)):
            if hours is not None and len(hours) != HOURS:
                raise ValueError(f"bound on {self.metric}: {key} needs {HOURS} values, "
                                 f"got {len(hours)}")
        for v in (self.value,) if self.hourly is None else (*self.hourly, *(self.weekend or ())):
            if v is None or not math.isfinite(v):
                raise ValueError(f"bound on {self.metric}: threshold must be a finite "
                                 f"number, got {v!r}")

    @property
    def thresholds(self) -> tuple[float, ...]:
        """Every threshold the bound holds (one when flat)."""
        if self.hourly is None:
            return (float(self.value),)  # type: ignore[arg-type]
        return (*self.hourly, *(self.weekend or ()))

    def threshold_at(self, ts: np.ndarray, calendar: Calendar | None = None) -> np.ndarray:
        """The threshold at each of ``ts``; ``calendar`` (``calendar_of(ts)``) saves
        working out the hours again when many bounds are read over one grid."""
        ts = np.asarray(ts, dtype=float)
        if self.hourly is None:
            return np.full(ts.shape, float(self.value))  # type: ignore[arg-type]
        calendar = calendar if calendar is not None else calendar_of(ts)
        limit = np.asarray(self.hourly)[calendar.hour]
        if self.weekend is not None:
            limit = np.where(calendar.weekend(self.weekend_offset_h),
                             np.asarray(self.weekend)[calendar.hour], limit)
        return limit

    def breached(self, ts: np.ndarray, values: np.ndarray,
                 calendar: Calendar | None = None) -> np.ndarray:
        """Per sample: is this value trouble? Missing values (NaN) are not."""
        limit = self.threshold_at(ts, calendar)
        with np.errstate(invalid="ignore"):
            return (values > limit) if self.op == ">" else (values < limit)


@dataclass(frozen=True)
class Rule:
    id: str
    bounds: tuple[Bound, ...]
    for_s: float
    severity: Severity
    summary: str
    runbook: str
    k: float | None = None  # the sigma multiple the tuner chose
    labels: dict[str, str] = field(default_factory=dict)
    keep_firing_s: float = 0.0  # firing goes on until the condition is clear this long
    over_s: float = 0.0  # bounds read each metric's trailing mean over this window

    def __post_init__(self) -> None:
        if self.over_s < 0 or self.over_s % OVER_STEP_S:
            raise ValueError(f"rule {self.id}: over must be a whole number of "
                             f"{OVER_STEP_S:g} s steps, got {self.over_s:g} s")
    disabled: str | None = None  # why the rule is written but not evaluated
    # How the thresholds scored when tuned: ``in_sample`` on the baseline they were
    # fitted to, ``held_out`` on a week the fit never saw (``WeekScore.as_dict``).
    backtest: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b.metric for b in self.bounds))


# --- the rules file ----------------------------------------------------------------

def _bound_to_dict(b: Bound) -> dict[str, Any]:
    out: dict[str, Any] = {"metric": b.metric, "op": b.op}
    if b.hourly is not None:
        out["hourly"] = [float(v) for v in b.hourly]
        if b.weekend is not None:
            out["weekend"] = [float(v) for v in b.weekend]
            if b.weekend_offset_h:
                out["weekend_offset_h"] = b.weekend_offset_h
    else:
        out["value"] = float(b.value)  # type: ignore[arg-type]
    return out


def rules_to_yaml(rules: Sequence[Rule], meta: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {"version": RULES_VERSION, **(meta or {}), "rules": [
        {"id": r.id, "for": format_duration(r.for_s),
         **({"keep_firing_for": format_duration(r.keep_firing_s)} if r.keep_firing_s else {}),
         **({"over": format_duration(r.over_s)} if r.over_s else {}),
         "severity": r.severity,
         "summary": r.summary, "runbook": r.runbook,
         **({"k": r.k} if r.k is not None else {}),
         **({"labels": dict(r.labels)} if r.labels else {}),
         **({"disabled": r.disabled} if r.disabled else {}),
         **({"backtest": r.backtest} if r.backtest else {}),
         "bounds": [_bound_to_dict(b) for b in r.bounds]}
        for r in rules
    ]}
    return yaml.safe_dump(doc, sort_keys=False, width=100)


def write_rules(path: str | Path, rules: Sequence[Rule], meta: dict[str, Any] | None = None
                ) -> None:
    """Write atomically: a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(rules_to_yaml(rules, meta))
    os.replace(tmp, path)


def _need(d: dict, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in d:
        raise RulesFileError(f"{where}.{key}: required key is missing")
    v = d[key]
    if not isinstance(v, kind) or isinstance(v, bool):
        raise RulesFileError(f"{where}.{key}: expected {_kind_name(kind)}, got {v!r}")
    return v


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({"str": "a string", "list": "a list", "dict": "a mapping",
                        "int": "a number", "float": "a number"}[k.__name__] for k in kinds)


def _parse_bound(d: Any, where: str) -> Bound:
    if not isinstance(d, dict):
        raise RulesFileError(f"{where}: expected a mapping, got {d!r}")
    unknown = set(d) - {"metric", "op", "value", "hourly", "weekend", "weekend_offset_h"}
    if unknown:
        raise RulesFileError(f"{where}.{sorted(unknown)[0]}: unknown key")
    metric = _need(d, "metric", where, str)
    if metric not in catalog.RECORDED:
        raise RulesFileError(f"{where}.metric: unknown metric {metric!r}")
    op = _need(d, "op", where, str)
    if op not in (">", "<"):
        raise RulesFileError(f"{where}.op: expected '>' or '<', got {op!r}")
    if op not in bad_ops(metric):
        raise RulesFileError(f"{where}.op: {metric} is trouble when "
                             f"{' or '.join(bad_ops(metric))} its threshold, not {op!r}")
    try:
        if "hourly" in d:
            hours = {key: _hours(d, key, where) for key in ("hourly", "weekend") if key in d}
            offset = d.get("weekend_offset_h", 0)
            if not isinstance(offset, int) or isinstance(offset, bool):
                raise RulesFileError(f"{where}.weekend_offset_h: expected whole hours from "
                                     f"UTC, got {offset!r}")
            if offset and "weekend" not in d:
                raise RulesFileError(f"{where}.weekend_offset_h: needs weekend (the "
                                     "weekend hours)")
            return Bound(metric, op, hourly=hours["hourly"], weekend=hours.get("weekend"),
                         weekend_offset_h=offset)
        if "weekend" in d:
            raise RulesFileError(f"{where}.weekend: needs hourly (the weekday hours)")
        if "weekend_offset_h" in d:
            raise RulesFileError(f"{where}.weekend_offset_h: needs hourly and weekend")
        return Bound(metric, op, value=float(_need(d, "value", where, (int, float))))
    except ValueError as exc:
        if isinstance(exc, RulesFileError):
            raise
        key = "hourly" if "hourly" in d else "value"
        if "weekend_offset_h" in str(exc):
            key = "weekend_offset_h"
        elif "weekend" in d and "weekend" in str(exc):
            key = "weekend"
        raise RulesFileError(f"{where}.{key}: {exc}") from None


def _hours(d: dict, key: str, where: str) -> tuple[float, ...]:
    hours = _need(d, key, where, list)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in hours):
        raise RulesFileError(f"{where}.{key}: expected {HOURS} numbers")
    return tuple(float(v) for v in hours)


def _parse_rule(d: Any, where: str) -> Rule:
    if not isinstance(d, dict):
        raise RulesFileError(f"{where}: expected a mapping, got {d!r}")
    rule_id = _need(d, "id", where, str)
    where = f"{where} ({rule_id})"
    try:
        for_s = parse_duration(d.get("for", "0s"))
    except ValueError as exc:
        raise RulesFileError(f"{where}.for: {exc}") from None
    try:
        keep_firing_s = parse_duration(d.get("keep_firing_for", "0s"))
    except ValueError as exc:
        raise RulesFileError(f"{where}.keep_firing_for: {exc}") from None
    try:
        over_s = parse_duration(d.get("over", "0s"))
        if over_s % OVER_STEP_S:
            raise ValueError(f"expected whole minutes, got {d.get('over')!r}")
    except ValueError as exc:
        raise RulesFileError(f"{where}.over: {exc}") from None
    severity = d.get("severity", "warning")
    if severity not in SEVERITIES:
        raise RulesFileError(f"{where}.severity: expected one of {SEVERITIES}, got {severity!r}")
    bounds = _need(d, "bounds", where, list)
    if not bounds:
        raise RulesFileError(f"{where}.bounds: a rule needs at least one bound")
    k = d.get("k")
    if k is not None and (not isinstance(k, int | float) or k <= 0):
        raise RulesFileError(f"{where}.k: expected a positive number, got {k!r}")
    labels = d.get("labels", {})
    if not isinstance(labels, dict):
        raise RulesFileError(f"{where}.labels: expected a mapping, got {labels!r}")
    disabled = d.get("disabled")
    if disabled is not None and (not isinstance(disabled, str) or not disabled.strip()):
        raise RulesFileError(f"{where}.disabled: expected the reason as text, got {disabled!r}")
    backtest = d.get("backtest", {})
    if not isinstance(backtest, dict):
        raise RulesFileError(f"{where}.backtest: expected a mapping, got {backtest!r}")
    spec = SPECS_BY_ID.get(rule_id)
    return Rule(
        id=rule_id,
        bounds=tuple(_parse_bound(b, f"{where}.bounds.{i}") for i, b in enumerate(bounds)),
        for_s=for_s,
        keep_firing_s=keep_firing_s,
        over_s=over_s,
        severity=severity,
        summary=str(d.get("summary", spec.summary if spec else rule_id)),
        runbook=str(d.get("runbook", spec.runbook if spec else "")),
        k=float(k) if k is not None else None,
        labels={str(a): str(b) for a, b in labels.items()},
        disabled=disabled,
        backtest={str(a): b for a, b in backtest.items()},
    )


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesFileError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise RulesFileError(f"{source}: expected a mapping with a 'rules' list")
    if doc.get("version", RULES_VERSION) != RULES_VERSION:
        raise RulesFileError(f"{source}: version: expected {RULES_VERSION}, "
                             f"got {doc.get('version')!r}")
    items = doc.get("rules")
    if not isinstance(items, list):
        raise RulesFileError(f"{source}: rules: expected a list of rules")
    try:
        rules = [_parse_rule(item, f"rules.{i}") for i, item in enumerate(items)]
    except RulesFileError as exc:
        raise RulesFileError(f"{source}: {exc}") from None
    seen: set[str] = set()
    for i, r in enumerate(rules):
        if r.id in seen:
            raise RulesFileError(f"{source}: rules.{i}.id: duplicate rule id {r.id!r}")
        seen.add(r.id)
    return rules


def read_rules(path: str | Path) -> list[Rule]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RulesFileError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_rules(text, str(path))


class RulesSource:
    """The rules in force: re-read when the file changes; a bad file keeps the last good."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[float, int] | None = None
        self._rules: list[Rule] = []
        self.last_error: str | None = None

    def rules(self) -> list[Rule]:
        try:
            st = self.path.stat()
        except OSError as exc:
            self.last_error = f"{self.path}: cannot read: {exc.strerror}"
            return self._rules
        stamp = (st.st_mtime, st.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._rules = read_rules(self.path)
                self.last_error = None
            except RulesFileError as exc:
                self.last_error = str(exc)
        return self._rules
