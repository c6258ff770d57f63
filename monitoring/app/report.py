"""The weekly report's I/O: the week's series from the store and the logs kept beside it
in, Markdown and SVG files out.

The alert history is what the evaluator recorded; the tuning log whatever tuning
appended. Either missing is said in the report, not guessed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from alerts.settings import AlertsSettings
from alerts.state import AlertStore
from dashboards.report.model import (
    Report,
    ReportInputs,
    SeriesData,
    Window,
    build_report,
    rule_catches,
)
from monitoring.app.config import Config
from monitoring.catalog import RECORDED
from monitoring.groundtruth import open_faultlog
from monitoring.store.base import Store
from monitoring.timerange import WEEK_S
from renderers.report.fmt import week_label
from renderers.report.render import WrittenReport, write_report

log = logging.getLogger(__name__)
HISTORY_LIMIT = 1_000_000  # alert state changes read per report: all of them, in practice


def read_week(store: Store, window: Window) -> dict[str, SeriesData]:
    """Raw samples (no resampling), so each figure is the plain statistic of what was stored."""
    series = store.read_many(list(RECORDED), window.start, window.end)
    return {mid: SeriesData(s.ts, s.values) for mid, s in series.items()}


def read_alert_history(settings: AlertsSettings) -> tuple[Mapping, ...] | None:
    path = Path(settings.state_path)
    if not path.exists():
        return None
    states = AlertStore(path)
    try:
        return tuple(states.history(limit=HISTORY_LIMIT))
    finally:
        states.close()


def read_tuning_log(path: str | Path) -> tuple[Mapping, ...] | None:
    """JSON lines written by the tuning job; None when it never ran."""
    path = Path(path)
    if not path.exists():
        return None
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s:%d: not a JSON line, skipped", path, n)
    return tuple(rows)


def load_inputs(config: Config, store: Store, start: float,
                tuning_log_path: str | Path | None = None) -> ReportInputs:
    week = Window(start, start + WEEK_S)
    previous = Window(start - WEEK_S, start)
    faults: tuple = ()
    faultlog = open_faultlog(config.store.path)
    if faultlog is not None:
        try:
            faults = tuple(faultlog.between(week.start, week.end))
        finally:
            faultlog.close()
    return ReportInputs(
        week=week_label(start), window=week, previous=previous,
        current=read_week(store, week), prior=read_week(store, previous),
        faults=faults, alert_history=read_alert_history(config.alerts),
        tuning_log=read_tuning_log(tuning_log_path or config.tuning_log_path),
        step_s=config.scrape.interval,
        slos=tuple(config.slos), catches=rule_catches(config.slos),
    )


def default_out_dir(config: Config, week: str) -> Path:
    return Path(config.output_dir) / "reports" / week


def generate(config: Config, store: Store, week_start: float, out_dir: Path | None = None,
             tuning_log: str | Path | None = None) -> tuple[Report, WrittenReport]:
    """One call from config to files: read the week, build the model, write Markdown and
    SVG (the tuning log beside the store unless ``tuning_log`` names one)."""
    inputs = load_inputs(config, store, week_start, tuning_log)
    report = build_report(inputs)
    out = Path(out_dir or default_out_dir(config, report.week))
    # report.md is written last (each file atomically) and marks a finished report:
    # drop an older one first, so a run killed midway leaves no report.md beside
    # half-replaced charts. The next run writes it whole.
    (out / "report.md").unlink(missing_ok=True)
    written = write_report(report, dict(inputs.current), out)
    return report, written
