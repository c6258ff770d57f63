"""Thresholds from history: pure functions, series in, rules and their trade-offs out.

For each rule and each of its metrics: a robust baseline (``alerts.stats``), the
threshold ``expected ± k·sigma`` on the metric's bad side, never looser than the
catalog target. k is chosen per rule from a grid by back-testing the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from alerts.backtest import BacktestResult, backtest
from alerts.rules import Bound, Rule, RuleSpec, bad_ops
from alerts.stats import Baseline, fit_baseline
from monitoring import catalog
from monitoring.groundtruth import FaultRecord

# Sigma multiples tried: 3σ is the classic floor; beyond 12σ a threshold only
# catches what the catalog target would anyway.
K_GRID: tuple[float, ...] = (3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0)
# Alert fatigue budget: at most one false page a week per rule.
MAX_FALSE_PER_DAY = 1 / 7


@dataclass(frozen=True)
class MetricBaseline:
    metric: str
    baseline: Baseline
    target_applies: bool  # the baseline itself meets the target, so the target may cap


@dataclass(frozen=True)
class Proposal:
    spec: RuleSpec
    rule: Rule  # with the chosen k
    baselines: tuple[MetricBaseline, ...]
    tradeoff: tuple[BacktestResult, ...]  # one row per k in the grid
    chosen: BacktestResult
    reason: str


def baselines_for(spec: RuleSpec, ts: np.ndarray, values: Mapping[str, np.ndarray]
                  ) -> tuple[MetricBaseline, ...]:
    out = []
    for metric_id in spec.metrics:
        v = values.get(metric_id)
        if v is None or not np.isfinite(v).any():
            continue
        b = fit_baseline(ts, v)
        target = catalog.get(metric_id).target
        out.append(MetricBaseline(metric_id, b, target is not None and target.met(b.center)))
    return tuple(out)


def _limit(expected: np.ndarray, sigma: float, k: float, op: str, metric_id: str,
           target_applies: bool) -> np.ndarray:
    limit = expected + k * sigma if op == ">" else expected - k * sigma
    target = catalog.get(metric_id).target
    # The target caps the threshold (a breach of the SLO always alerts), unless normal
    # already breaches it: then capping would fire all week, so the baseline rules.
    if target is not None and target_applies:
        if op == ">" and target.op in ("<", "<="):
            limit = np.minimum(limit, target.value)
        elif op == "<" and target.op in (">", ">="):
            limit = np.maximum(limit, target.value)
    return limit


def _sig(x: float) -> float:
    # Six significant digits: thresholds stay readable and survive a file round trip.
    return float(f"{x:.6g}")


def propose_rule(spec: RuleSpec, baselines: Sequence[MetricBaseline], k: float) -> Rule:
    """The rule with thresholds at ``k`` robust sigmas on each metric's bad side."""
    hours = np.arange(24) * 3600.0
    bounds = []
    for mb in baselines:
        b = mb.baseline
        for op in bad_ops(mb.metric):
            if b.seasonal:
                limit = _limit(b.expected(hours), b.sigma, k, op, mb.metric, mb.target_applies)
                bounds.append(Bound(mb.metric, op, hourly=tuple(_sig(x) for x in limit)))
            else:
                limit = _limit(np.array([b.center]), b.sigma, k, op, mb.metric,
                               mb.target_applies)
                bounds.append(Bound(mb.metric, op, value=_sig(limit[0])))
    return Rule(spec.id, tuple(bounds), spec.for_s, spec.severity, spec.summary, spec.runbook,
                k=k)


def choose(rows: Sequence[BacktestResult], max_false_per_day: float = MAX_FALSE_PER_DAY
           ) -> tuple[BacktestResult, str]:
    """Most faults caught within the false-alarm budget; ties: fewer false alarms,
    faster, then the smallest k (the most sensitive of equals).

    Without a budget-compliant k, the one with the fewest false alarms.
    """
    within = [r for r in rows if r.false_alarms_per_day <= max_false_per_day]
    if not within:
        best = min(rows, key=lambda r: (r.false_alarms, -(r.k or 0)))
        return best, "no k meets the false-alarm budget; fewest false alarms"
    best = max(within, key=lambda r: (r.detected, -r.false_alarms,
                                      -(r.mean_ttd_s if r.mean_ttd_s is not None else 1e18),
                                      -(r.k or 0)))
    if best.faults:
        return best, f"caught {best.detected}/{best.faults} within the false-alarm budget"
    return best, "no recorded faults of its kinds; fewest false alarms"


def tune_rule(spec: RuleSpec, ts: np.ndarray, values: Mapping[str, np.ndarray],
              faults: Sequence[FaultRecord], grid: Sequence[float] = K_GRID,
              max_false_per_day: float = MAX_FALSE_PER_DAY) -> Proposal | None:
    """Fit, sweep k over ``grid`` by back-test, keep the best; None without data."""
    baselines = baselines_for(spec, ts, values)
    if not baselines:
        return None
    rules = {k: propose_rule(spec, baselines, k) for k in grid}
    rows = tuple(backtest(rules[k], spec.catches, ts, values, faults) for k in grid)
    chosen, reason = choose(rows, max_false_per_day)
    rule = rules[chosen.k]  # type: ignore[index]
    return Proposal(spec, rule, baselines, rows, chosen, reason)


def tune(specs: Sequence[RuleSpec], ts: np.ndarray, values: Mapping[str, np.ndarray],
         faults: Sequence[FaultRecord], grid: Sequence[float] = K_GRID,
         max_false_per_day: float = MAX_FALSE_PER_DAY) -> list[Proposal]:
    """Every rule with data, tuned on the same baseline grid."""
    out = []
    for spec in specs:
        p = tune_rule(spec, ts, values, faults, grid, max_false_per_day)
        if p is not None:
            out.append(p)
    return out


def with_labels(rule: Rule, **labels: str) -> Rule:
    return replace(rule, labels={**rule.labels, **labels})
