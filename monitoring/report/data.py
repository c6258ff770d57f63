"""The report's I/O edge: the week's series from the store and the logs kept beside it.

Alert history comes from ``alerts`` only when that package records it; a tuning log is
whatever the nightly tuning job appended. Either missing is said in the report, not guessed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from alerts.slo import SLO
from monitoring.catalog import RECORDED
from monitoring.config import Config
from monitoring.groundtruth import open_faultlog
from monitoring.report.fmt import week_label
from monitoring.report.model import FAULT_METRICS, ReportInputs, SeriesData, Window
from monitoring.store.base import Store
from monitoring.timerange import WEEK_S

log = logging.getLogger(__name__)
HISTORY_LIMIT = 1_000_000  # alert state changes read per report: all of them, in practice


def read_week(store: Store, window: Window) -> dict[str, SeriesData]:
    """Raw samples (no resampling), so each figure is the plain statistic of what was stored."""
    series = store.read_many(list(RECORDED), window.start, window.end)
    return {mid: SeriesData(s.ts, s.values) for mid, s in series.items()}


def read_alert_history(config: Config) -> tuple[Mapping, ...] | None:
    try:
        from alerts.settings import alerts_settings
        from alerts.state import AlertStore
    except ImportError:
        return None
    path = Path(alerts_settings(config).state_path)
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


def rule_catches(slos: Sequence[SLO]) -> dict[str, tuple[str, ...]]:
    """Which fault kinds each rule is meant to catch: the tuned rules say so in their
    spec; an SLO's burn-rate rules are meant for the faults that move its indicator."""
    from alerts.burn import POLICIES
    from alerts.rules import RULE_SPECS
    from alerts.slo_rules import rule_id

    out = {spec.id: spec.catches for spec in RULE_SPECS}
    for slo in slos:
        kinds = tuple(k for k, ids in FAULT_METRICS.items() if slo.indicator.metric in ids)
        for policy in POLICIES:
            out[rule_id(slo, policy)] = kinds
    return out


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
        faults=faults, alert_history=read_alert_history(config),
        tuning_log=read_tuning_log(tuning_log_path) if tuning_log_path else None,
        step_s=config.scrape.interval,
        slos=tuple(config.slos), catches=rule_catches(config.slos),
    )
