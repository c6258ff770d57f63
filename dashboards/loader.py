"""The one dashboard loader: a dashboard's data with what alerting adds to it (recent
alerts, the tuned thresholds, SLO budgets, runbook links).

Read from the evaluator's state file and the tuner's rules file when they exist, so a
dashboard rendered before any tuning still works (catalog targets, no alerts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from alerts.cycle import load_rules, rule_labels
from alerts.evaluator import AlertState
from alerts.rules import SPECS_BY_ID, RulesFileError, read_rules
from alerts.runbooks import runbook_for
from alerts.settings import Alerting
from alerts.silence import SilenceStore
from alerts.slo_rules import slo_rules as make_slo_rules
from alerts.state import AlertStore
from dashboards.alertview import SEVERITIES, AlertView
from dashboards.data import DashboardData, load_dashboard_data
from dashboards.markers import Marker, alert_episodes, fault_markers
from dashboards.model import Dashboard
from monitoring.catalog import Target
from monitoring.groundtruth import FaultRecord
from monitoring.store.base import Store

HISTORY_LIMIT = 100_000  # state changes read: weeks of history, in practice
_GOOD_SIDE = {">": "<=", "<": ">="}  # a rule's "value > t is trouble" is a "<= t" target


def _annotate(views: list[AlertView], alerting: Alerting, end: float) -> list[AlertView]:
    """Mark silenced alerts and attach runbook links.

    A firing or pending alert is silenced when a silence matches it at ``end`` (now,
    for a live dashboard); a resolved one when a silence matched it as it resolved.
    """
    labels = rule_labels(load_rules(alerting)[0])
    path = alerting.silence_path
    silences = SilenceStore(path) if path.exists() else None
    base = alerting.settings.runbook_base_url
    out = []
    try:
        for v in views:
            at = v.since if v.state == "resolved" else end
            match = None
            if silences is not None:
                extra = labels.get(v.name, {})
                match = silences.silencing({"alertname": v.name, "severity": v.severity,
                                            **extra}, at)
            book = runbook_for(v.name)
            out.append(replace(v, silenced=match is not None,
                               runbook_url=book.url(base) if book else ""))
    finally:
        if silences is not None:
            silences.close()
    return out


def _read_states(alerting: Alerting) -> tuple[dict[str, AlertState], list[dict]]:
    """The evaluator's current states and its history, newest first."""
    store = AlertStore(alerting.settings.state_path)
    try:
        return store.load(), store.history(limit=HISTORY_LIMIT)
    finally:
        store.close()


def alert_markers(alerting: Alerting, start: float, end: float) -> tuple[Marker, ...]:
    """The alert episodes overlapping [start, end], from the evaluator's history."""
    if not Path(alerting.settings.state_path).exists():
        return ()
    return alert_episodes(_read_states(alerting)[1], start, end)


def alert_views(alerting: Alerting, start: float, end: float) -> list[AlertView]:
    """Alert state changes in [start, end], newest first, plus alerts pending now;
    silenced ones marked, each with its runbook link."""
    if not Path(alerting.settings.state_path).exists():
        return []
    slo_rules = {r.id: r for r in make_slo_rules(alerting.slos)}
    states, history = _read_states(alerting)
    views = []
    latest_firing: set[str] = set()
    for row in history:  # newest first
        if not start <= row["at"] <= end or row["new"] not in ("firing", "resolved"):
            continue
        if row["new"] == "firing":
            current = states.get(row["rule"])
            # Only the episode still firing shows as firing; older ones show resolved.
            if current is None or current.state != "firing" or row["rule"] in latest_firing:
                continue
            latest_firing.add(row["rule"])
        # SLO burn-rate rules are not tuned specs: their severity and summary come
        # from the rule itself.
        spec = SPECS_BY_ID.get(row["rule"]) or slo_rules.get(row["rule"])
        severity = spec.severity if spec and spec.severity in SEVERITIES else "warning"
        views.append(AlertView(row["rule"], severity, row["new"], row["at"],
                               spec.summary if spec else "", row["metric"]))
    for state in states.values():
        if state.state == "pending" and state.active_since is not None:
            severity = state.severity if state.severity in SEVERITIES else "warning"
            views.append(AlertView(state.rule, severity, "pending", state.active_since,
                                   state.summary, state.metric))
    return _annotate(sorted(views, key=lambda v: v.since, reverse=True), alerting, end)


def tuned_thresholds(alerting: Alerting) -> dict[str, Target]:
    """Flat thresholds from the rules file, as targets per metric (hourly ones are left out)."""
    path = Path(alerting.settings.rules_path)
    if not path.exists():
        return {}
    try:
        rules = read_rules(path)
    except RulesFileError:
        return {}  # the evaluator reports a bad file; dashboards fall back to targets
    out: dict[str, Target] = {}
    for rule in rules:
        for bound in rule.bounds:
            if bound.value is not None and bound.op in _GOOD_SIDE:
                out[bound.metric] = Target(_GOOD_SIDE[bound.op], bound.value)  # type: ignore[arg-type]
    return out


def load_configured(alerting: Alerting, dashboard: Dashboard, store: Store, start: float,
                    end: float, step: float, faults: Sequence[FaultRecord] = ()
                    ) -> DashboardData:
    """A dashboard's data with everything alerting adds: alerts, tuned thresholds, SLO
    budgets, runbook links and the alert episodes to mark, on the grid ``step``; the
    recorded ``faults`` are marked too. Every caller (CLI, live server, scheduled job)
    uses this.
    """
    data = load_dashboard_data(
        dashboard, store, start, end, step=step,
        alerts=alert_views(alerting, start, end), thresholds=tuned_thresholds(alerting),
        slos=alerting.slos, runbook_base=alerting.settings.runbook_base_url)
    markers = (*alert_markers(alerting, start, end), *fault_markers(faults))
    return replace(data, markers=tuple(sorted(markers, key=lambda m: (m.start, m.kind))))
