"""Retuning, one way for every caller (``ionmon tune`` and the nightly job): propose a
rule per spec from a baseline, compare with the rules in force, write the rules file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from alerts.backtest import WeekScore, week_score
from alerts.baseline import History
from alerts.rules import RULE_SPECS, Rule, RulesFileError, RuleSpec, read_rules, write_rules
from alerts.settings import AlertsSettings
from alerts.tuner import Proposal, tune_rule
from monitoring.durations import format_duration

# Every metric some rule watches: what a baseline has to read.
RULE_METRICS: tuple[str, ...] = tuple(sorted({m for s in RULE_SPECS for m in s.metrics}))


def propose(history: History, settings: AlertsSettings,
            on_rule: Callable[[RuleSpec], None] | None = None,
            weekend_clocks: Sequence[int] = (0,)) -> list[Proposal]:
    """One proposal per rule spec that has data; ``on_rule`` is told before each (progress).
    ``weekend_clocks``: the UTC offsets (hours) of the service's regions, whose local
    weekends a weekly profile may follow."""
    proposals = []
    for spec in RULE_SPECS:
        if on_rule is not None:
            on_rule(spec)
        p = tune_rule(spec, history.ts, history.values, history.faults, settings.k_grid,
                      settings.max_false_alarms_per_day, weekend_clocks=weekend_clocks)
        if p is not None:
            proposals.append(p)
    return proposals


@dataclass(frozen=True)
class Scored:
    """A proposal's thresholds scored on its baseline and, when given, a held-out week."""

    proposal: Proposal
    in_sample: WeekScore
    held_out: WeekScore | None = None


def score_weeks(proposals: Sequence[Proposal], baseline: History,
                held_out: History | None = None) -> list[Scored]:
    """Each proposal's rule replayed over the baseline it was tuned on and over a week
    the fit never saw: the out-of-sample back-test."""
    out = []
    for p in proposals:
        kinds = p.spec.catches
        ins = week_score(p.rule, kinds, baseline.ts, baseline.values, baseline.faults)
        held = (None if held_out is None else
                week_score(p.rule, kinds, held_out.ts, held_out.values, held_out.faults))
        out.append(Scored(p, ins, held))
    return out


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
          baseline_s: float, scored: Sequence[Scored] = (),
          held_out: str | None = None) -> None:
    """Write the proposals as the rules file the evaluator reads.

    With ``scored``, each rule records its in-sample and held-out scores; ``held_out``
    names where the held-out week came from.
    """
    meta = {"tuned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(tuned_at)),
            "baseline": format_duration(baseline_s),
            **({"held_out": held_out} if held_out else {})}
    scores = {s.proposal.rule.id: s for s in scored}
    rules = []
    for p in proposals:
        s = scores.get(p.rule.id)
        if s is None:
            rules.append(p.rule)
            continue
        backtest = {"status": p.status, "in_sample": s.in_sample.as_dict(),
                    **({} if s.held_out is None else {"held_out": s.held_out.as_dict()})}
        rules.append(replace(p.rule, backtest=backtest))
    write_rules(settings.rules_path, rules, meta)


def commit_proposals(settings: AlertsSettings, proposals: Sequence[Proposal], at: float,
                     baseline_s: float, tuning_log: str | Path, applied: bool,
                     scored: Sequence[Scored] = (), held_out: str | None = None
                     ) -> list[dict[str, Any]]:
    """Log the thresholds the proposals change to the tuning log and, when ``applied``,
    write them as the rules file; returns the logged rows."""
    changes = threshold_changes(rules_in_force(settings.rules_path), proposals, at, applied,
                                baseline_s)
    if applied and proposals:
        apply(settings, proposals, at, baseline_s, scored, held_out)
    append_tuning_log(tuning_log, changes)
    return changes
