"""Burn-rate alerts for the embedded evaluator: SLOs as ordinary ``Rule``s.

Each SLO gets a page rule and a ticket rule. A rule's bounds name virtual series,
``slo:<name>:burn:<long>&<short>``, whose value is the burn rate both windows sustain;
the bound fires above the condition's factor. The evaluator's state machine, history
and notifications then treat SLO alerts like any other rule. ``slo_query`` answers the
virtual series from the store and passes every other id through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from alerts.burn import (
    POLICIES,
    BurnCondition,
    BurnPolicy,
    burn_rates,
    condition_value,
    events,
    joined_weights,
)
from alerts.evaluator import STALENESS_S, Query, latest_index
from alerts.rules import Bound, Rule
from alerts.runbooks import runbook_for
from alerts.slo import SLO
from monitoring import catalog
from monitoring.store.base import Store

PREFIX = catalog.SLO_RULE_PREFIX


def rule_id(slo: SLO, policy: BurnPolicy) -> str:
    return f"slo_{slo.name}_{policy.kind}"


def slo_region(slo: SLO) -> str | None:
    """The region an SLO is about (its indicator reads one region's series), or None."""
    metrics = slo.indicator.metrics
    return next((r for r in catalog.REGIONS
                 if all(m.endswith(f"_{r}") for m in metrics)), None)


def slo_labels(slo: SLO, policy: BurnPolicy) -> dict[str, str]:
    """An SLO alert's labels besides alertname and severity, wherever it is evaluated:
    the SLO, the policy (page or ticket) and, for a region's SLO, the region, which the
    Alertmanager inhibit rules match on."""
    region = slo_region(slo)
    return {"slo": slo.name, "policy": policy.kind, **({"region": region} if region else {})}


def series_id(slo: SLO, c: BurnCondition) -> str:
    return f"{PREFIX}{slo.name}:burn:{c.label}"


def slo_rules(slos: Sequence[SLO]) -> list[Rule]:
    out = []
    for slo in slos:
        book = runbook_for(slo.name)
        for policy in POLICIES:
            out.append(Rule(
                id=rule_id(slo, policy),
                bounds=tuple(Bound(series_id(slo, c), ">", c.factor) for c in policy.conditions),
                for_s=0.0,  # the short window already filters blips
                severity=policy.severity,  # type: ignore[arg-type]
                summary=f"{slo.title}: error budget burning fast enough to "
                        f"{'page' if policy.kind == 'page' else 'need a ticket'} "
                        f"(objective {slo.objective:g}%)",
                runbook=book.title if book else "",
                labels=slo_labels(slo, policy),
            ))
    return out


def _conditions(slo: SLO) -> dict[str, BurnCondition]:
    return {series_id(slo, c): c for p in POLICIES for c in p.conditions}


def _windows(slo: SLO) -> tuple[float, ...]:
    return tuple(sorted({w for c in _conditions(slo).values() for w in (c.long_s, c.short_s)}))


def condition_series(slo: SLO, ts: np.ndarray, values: np.ndarray,
                     weights: np.ndarray | None) -> dict[str, np.ndarray]:
    """Every virtual series of one SLO over a grid of one-minute samples."""
    bad, total = events(slo, values, weights)
    burn = burn_rates(slo, ts, bad, total, _windows(slo))
    return {sid: condition_value(burn, c) for sid, c in _conditions(slo).items()}


def query_from_arrays(ts: np.ndarray, series: Mapping[str, np.ndarray], fallback: Query
                      ) -> Query:
    """A query over precomputed series (a back-test evaluates a week in one pass)."""
    ts = np.asarray(ts, dtype=float)

    def query(metric: str, now: float) -> float | None:
        if metric not in series:
            return fallback(metric, now)
        i = latest_index(ts, now)
        if i is None:
            return None
        v = float(series[metric][i])
        return None if not np.isfinite(v) else v
    return query


def read_indicator(store: Store, slo: SLO, start: float, end: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The SLO's indicator over ``(start, end]``: times, values and, for a ratio, each
    minute's weight (None without one). Weights are joined on timestamps: both series
    come from the same scrape."""
    got = store.read_many(list(slo.indicator.metrics), start, end)
    s = got[slo.indicator.metric]
    weights = None
    if slo.indicator.weight is not None:
        w = got[slo.indicator.weight]
        weights = joined_weights(s.ts, w.ts, w.values)
    return np.asarray(s.ts, dtype=float), np.asarray(s.values, dtype=float), weights


def slo_query(store: Store, slos: Sequence[SLO], fallback: Query) -> Query:
    """Virtual SLO series computed from the store at ``now``; other ids go to ``fallback``."""
    owner = {sid: slo for slo in slos for sid in _conditions(slo)}
    memo: dict[tuple[str, float], dict[str, np.ndarray]] = {}

    def compute(slo: SLO, now: float) -> Callable[[str], float | None]:
        key = (slo.name, now)
        if key not in memo:
            memo.clear()  # one evaluation time at a time
            ts, values, weights = read_indicator(store, slo, now - max(_windows(slo)), now)
            memo[key] = condition_series(slo, ts, values, weights) if len(ts) else {}
            memo[key]["_ts"] = ts
        arrays = memo[key]

        def value(sid: str) -> float | None:
            ts = arrays["_ts"]
            if len(ts) == 0 or now - ts[-1] > STALENESS_S:
                return None
            v = float(arrays[sid][-1])
            return v if np.isfinite(v) else None
        return value

    def query(metric: str, now: float) -> float | None:
        slo = owner.get(metric)
        if slo is None:
            return fallback(metric, now)
        return compute(slo, now)(metric)
    return query
