"""The scheduled jobs of a live run, each a function of its scheduled time.

A job returns a one-line outcome or raises; ``monitoring.scheduler`` records either.
Alerting jobs exist only when the ``alerts`` package provides what they call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitoring.config import Config
from monitoring.scheduler import JobSpec, JobStateDB, ScheduleSettings, cron, interval
from monitoring.scrape import Scraper
from monitoring.store.base import Store
from monitoring.timerange import last_complete_week

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    config: Config
    settings: ScheduleSettings
    store: Store
    state: JobStateDB
    scraper: Scraper | None = None  # None: nothing live to scrape (report-only runs)
    dispatcher: Any = None  # alerts' notification workers, kept for the process


def scrape_job(ctx: JobContext) -> Callable[[float], str]:
    def run(now: float) -> str:
        assert ctx.scraper is not None
        cycle = ctx.scraper.cycle(now)
        ctx.store.write(cycle.points())
        ctx.state.save_targets(((h.target, h.up, h.reason) for h in cycle.health), now)
        up = sum(h.up for h in cycle.health)
        return f"{len(cycle.values)} metrics, {up}/{len(cycle.health)} targets up"
    return run


def evaluate_job(ctx: JobContext) -> Callable[[float], str] | None:
    try:
        from alerts.cycle import run_cycle
    except ImportError:
        return None

    def run(now: float) -> str:
        # Tuned rules when 'ionmon tune --apply' wrote them; SLO burn-rate rules always.
        result = run_cycle(ctx.config, ctx.store, now, dispatcher=ctx.dispatcher)
        if result.rules_error:
            raise RuntimeError(result.rules_error)
        firing = sum(s.state == "firing" for s in result.states.values())
        return (f"{result.rules} rules, {firing} firing, {len(result.changes)} changes, "
                f"{len(result.muted)} silenced")
    return run


def retune_job(ctx: JobContext) -> Callable[[float], str] | None:
    try:
        from alerts.history import read_history
        from alerts.rules import RULE_SPECS, RulesFileError, read_rules, write_rules
        from alerts.settings import alerts_settings
        from alerts.tuner import tune_rule
        from monitoring.groundtruth import open_faultlog
    except ImportError:
        return None
    settings = alerts_settings(ctx.config)

    def run(now: float) -> str:
        faults = open_faultlog(ctx.config.store.path)
        try:
            metrics = sorted({m for s in RULE_SPECS for m in s.metrics})
            history = read_history(ctx.store, metrics, now - settings.baseline, now, faults)
        finally:
            if faults is not None:
                faults.close()
        if history.empty:
            return "skipped: no history in the baseline"
        proposals = [p for s in RULE_SPECS if (p := tune_rule(
            s, history.ts, history.values, history.faults, settings.k_grid,
            settings.max_false_alarms_per_day)) is not None]
        try:
            current = {r.id: r for r in read_rules(settings.rules_path)}
        except (RulesFileError, FileNotFoundError, OSError):
            current = {}
        apply = ctx.settings.retune_apply
        changes = [
            {"at": now, "rule": p.rule.id, "metric": ", ".join(p.rule.metrics),
             "old": _thresholds(current.get(p.rule.id)), "new": _thresholds(p.rule),
             "applied": apply}
            for p in proposals
        ]
        changes = [c for c in changes if c["old"] != c["new"]]
        _append_jsonl(ctx.settings.tuning_log, changes)
        if apply and proposals:
            write_rules(settings.rules_path, [p.rule for p in proposals],
                        {"tuned_at": now, "baseline_s": settings.baseline})
        return (f"{len(proposals)} rules tuned, {len(changes)} thresholds changed"
                f"{' and applied' if apply else ' (proposed only)'}")
    return run


def _thresholds(rule) -> str:
    if rule is None:
        return "—"
    parts = []
    for b in rule.bounds:
        if b.hourly is None:
            parts.append(f"{b.op} {b.value:.4g}")
        else:
            parts.append(f"{b.op} {min(b.hourly):.4g}..{max(b.hourly):.4g} (hourly)")
    return "; ".join(parts)


def _append_jsonl(path: str | Path, rows: list[dict]) -> None:
    if not rows:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")


def dashboards_job(ctx: JobContext, range_s: float = 86400.0) -> Callable[[float], str]:
    def run(now: float) -> str:
        from dashboards.alertsfeed import load_configured
        from dashboards.definitions import DASHBOARDS
        from renderers.html import render_html

        out = Path(ctx.config.output_dir) / "dashboards"
        out.mkdir(parents=True, exist_ok=True)
        for name, dashboard in DASHBOARDS.items():
            data = load_configured(ctx.config, dashboard, ctx.store, now - range_s, now)
            (out / f"{name}.html").write_text(render_html(data), encoding="utf-8")
        return f"{len(DASHBOARDS)} dashboards written to {out}"
    return run


def report_job(ctx: JobContext) -> Callable[[float], str]:
    def run(now: float) -> str:
        from monitoring.report.generate import generate

        start, _ = last_complete_week(now)
        report, written = generate(ctx.config, ctx.store, start,
                                   tuning_log=ctx.settings.tuning_log)
        return f"week {report.week}: {written.markdown} ({report.samples:,} samples)"
    return run


def retention_job(ctx: JobContext) -> Callable[[float], str]:
    def run(now: float) -> str:
        apply = getattr(ctx.store, "apply_retention", None)
        if apply is None:
            return "skipped: the store keeps its own retention"
        return f"{apply(now)} chunks dropped"
    return run


def build_jobs(ctx: JobContext) -> list[JobSpec]:
    """Every job this run can do, each on its trigger from the settings."""
    s = ctx.settings
    specs = []
    if ctx.scraper is not None:
        specs.append(JobSpec("scrape", interval(ctx.config.scrape.interval), scrape_job(ctx)))
    if (ev := evaluate_job(ctx)) is not None:
        specs.append(JobSpec("evaluate_alerts", interval(s.evaluate_interval_s), ev))
    else:
        log.info("alerts has no evaluator: alert evaluation is not scheduled")
    if (rt := retune_job(ctx)) is not None:
        specs.append(JobSpec("retune", cron(s.retune_cron), rt))
    specs.append(JobSpec("dashboards", interval(s.dashboards_interval_s), dashboards_job(ctx)))
    specs.append(JobSpec("weekly_report", cron(s.report_cron), report_job(ctx)))
    specs.append(JobSpec("retention", cron(s.retention_cron), retention_job(ctx)))
    return specs
