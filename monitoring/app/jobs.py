"""The scheduled jobs of a live run, each a function of its scheduled time.

A job returns a one-line outcome or raises; ``monitoring.app.scheduler`` records either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.baseline import read_history
from alerts.cycle import run_cycle
from alerts.retune import RULE_METRICS, commit_proposals, propose
from dashboards.definitions import DASHBOARDS
from dashboards.loader import load_configured
from monitoring.app.config import Config
from monitoring.app.report import generate
from monitoring.app.scheduler import JobSpec, JobStateDB, cron, interval
from monitoring.app.stores import recorded_faults
from monitoring.groundtruth import open_faultlog
from monitoring.scrape import Scraper
from monitoring.store.base import Store
from monitoring.timerange import last_complete_week
from renderers.html import render_html

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    config: Config
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


def evaluate_job(ctx: JobContext) -> Callable[[float], str]:
    def run(now: float) -> str:
        # Tuned rules when 'ionmon tune --apply' wrote them; SLO burn-rate rules always.
        result = run_cycle(ctx.config.alerting, ctx.store, now, dispatcher=ctx.dispatcher)
        if result.rules_error:
            raise RuntimeError(result.rules_error)
        firing = sum(s.state == "firing" for s in result.states.values())
        return (f"{result.rules} rules, {firing} firing, {len(result.changes)} changes, "
                f"{len(result.muted)} silenced")
    return run


def retune_job(ctx: JobContext) -> Callable[[float], str]:
    settings = ctx.config.alerts
    schedule = ctx.config.schedule

    def run(now: float) -> str:
        faults = open_faultlog(ctx.config.store.path)
        try:
            history = read_history(ctx.store, RULE_METRICS, now - settings.baseline, now,
                                   faults, step=ctx.config.scrape.interval)
        finally:
            if faults is not None:
                faults.close()
        if history.empty:
            return "skipped: no history in the baseline"
        proposals = propose(history, settings, weekend_clocks=ctx.config.weekend_clocks)
        changes = commit_proposals(settings, proposals, now, settings.baseline,
                                   ctx.config.tuning_log_path, schedule.retune_apply)
        return (f"{len(proposals)} rules tuned, {len(changes)} thresholds changed"
                f"{' and applied' if schedule.retune_apply else ' (proposed only)'}")
    return run


def dashboards_job(ctx: JobContext, range_s: float = 86400.0) -> Callable[[float], str]:
    def run(now: float) -> str:
        out = Path(ctx.config.output_dir) / "dashboards"
        out.mkdir(parents=True, exist_ok=True)
        for name, dashboard in DASHBOARDS.items():
            data = load_configured(ctx.config.alerting, dashboard, ctx.store, now - range_s, now,
                                   ctx.config.scrape.interval,
                                   faults=recorded_faults(ctx.config, now - range_s, now))
            (out / f"{name}.html").write_text(render_html(data), encoding="utf-8")
        return f"{len(DASHBOARDS)} dashboards written to {out}"
    return run


def report_job(ctx: JobContext) -> Callable[[float], str]:
    def run(now: float) -> str:
        start, _ = last_complete_week(now)
        report, written = generate(ctx.config, ctx.store, start)
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
    s = ctx.config.schedule
    specs = []
    if ctx.scraper is not None:
        specs.append(JobSpec("scrape", interval(ctx.config.scrape.interval), scrape_job(ctx)))
    specs.append(JobSpec("evaluate_alerts", interval(s.evaluate_interval), evaluate_job(ctx)))
    specs.append(JobSpec("retune", cron(s.retune_cron), retune_job(ctx)))
    specs.append(JobSpec("dashboards", interval(s.dashboards_interval), dashboards_job(ctx)))
    specs.append(JobSpec("weekly_report", cron(s.report_cron), report_job(ctx)))
    specs.append(JobSpec("retention", cron(s.retention_cron), retention_job(ctx)))
    return specs
