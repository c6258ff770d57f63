"""Retuning, one way for every caller (``ionmon tune`` and the nightly job): propose a
rule per spec from a baseline, compare with the rules in force, write the rules file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from alerts.baseline import History
from alerts.rules import RULE_SPECS, Rule, RulesFileError, RuleSpec, read_rules, write_rules
from alerts.settings import AlertsSettings
from alerts.tuner import Proposal, tune_rule
from monitoring.durations import format_duration

# Every metric some rule watches: what a baseline has to read.
RULE_METRICS: tuple[str, ...] = tuple(sorted({m for s in RULE_SPECS for m in s.metrics}))


def propose(history: History, settings: AlertsSettings,
            on_rule: Callable[[RuleSpec], None] | None = None) -> list[Proposal]:
    """One proposal per rule spec that has data; ``on_rule`` is told before each (progress)."""
    proposals = []
    for spec in RULE_SPECS:
        if on_rule is not None:
            on_rule(spec)
        p = tune_rule(spec, history.ts, history.values, history.faults, settings.k_grid,
                      settings.max_false_alarms_per_day)
        if p is not None:
            proposals.append(p)
    return proposals


def rules_in_force(path: str | Path) -> dict[str, Rule]:
    """The rules file's rules by id; none when it is missing or unreadable."""
    try:
        return {r.id: r for r in read_rules(path)}
    except (RulesFileError, FileNotFoundError, OSError):
        return {}


def thresholds_text(rule: Rule | None) -> str:
    if rule is None:
        return "—"
    parts = []
    for b in rule.bounds:
        if b.hourly is None:
            parts.append(f"{b.op} {b.value:.4g}")
        else:
            parts.append(f"{b.op} {min(b.hourly):.4g}..{max(b.hourly):.4g} (hourly)")
    return "; ".join(parts)


def threshold_changes(current: dict[str, Rule], proposals: Sequence[Proposal], at: float,
                      applied: bool, baseline_s: float | None = None) -> list[dict[str, Any]]:
    """The tuning log's rows: each rule whose thresholds the proposal changes, with the
    tuner's reason and (given ``baseline_s``) the baseline it was tuned on, which ends
    at ``at``."""
    rows = [{"at": at, "rule": p.rule.id, "metric": ", ".join(p.rule.metrics),
             "old": thresholds_text(current.get(p.rule.id)), "new": thresholds_text(p.rule),
             "applied": applied, "reason": p.reason,
             **({} if baseline_s is None else {"baseline_start": at - baseline_s})}
            for p in proposals]
    return [r for r in rows if r["old"] != r["new"]]


def append_tuning_log(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Append the rows to the tuning log, one JSON object a line."""
    if not rows:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")


def apply(settings: AlertsSettings, proposals: Sequence[Proposal], tuned_at: float,
          baseline_s: float) -> None:
    """Write the proposals as the rules file the evaluator reads."""
    meta = {"tuned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(tuned_at)),
            "baseline": format_duration(baseline_s)}
    write_rules(settings.rules_path, [p.rule for p in proposals], meta)


def commit_proposals(settings: AlertsSettings, proposals: Sequence[Proposal], at: float,
                     baseline_s: float, tuning_log: str | Path, applied: bool
                     ) -> list[dict[str, Any]]:
    """Log the thresholds the proposals change to the tuning log and, when ``applied``,
    write them as the rules file; returns the logged rows."""
    changes = threshold_changes(rules_in_force(settings.rules_path), proposals, at, applied,
                                baseline_s)
    if applied and proposals:
        apply(settings, proposals, at, baseline_s)
    append_tuning_log(tuning_log, changes)
    return changes
