"""One evaluation cycle: tuned rules and SLO burn-rate rules, state saved, silences applied.

Order as in Alertmanager: evaluate → record every state change → silence → deliver.
A silenced change is recorded and held; held changes are delivered once their silence
ends (``alerts.silence``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.evaluator import AlertState, Transition, evaluate, store_query
from alerts.notify.base import Notification, Notifier
from alerts.notify.dispatch import channels_from, deliver, notifications
from alerts.rules import Rule, RulesFileError, read_rules
from alerts.settings import alerts_settings
from alerts.silence import SilenceStore, released, split_silenced
from alerts.slo import SLO, default_slos
from alerts.slo_rules import slo_query, slo_rules
from alerts.state import AlertStore
from monitoring.store.base import Store


@dataclass(frozen=True)
class CycleResult:
    states: dict[str, AlertState]
    changes: tuple[Transition, ...]
    sent: tuple[Notification, ...]
    muted: tuple[Notification, ...]
    rules: int
    rules_error: str | None = None  # the tuned rules file could not be read


def configured_slos(config: Any) -> list[SLO]:
    return list(getattr(config, "slos", None) or default_slos())


def silence_path(config: Any) -> Path:
    """Silences live beside the alert state."""
    return Path(alerts_settings(config).state_path).with_name("silences.db")


def rule_labels(rules: Sequence[Rule]) -> dict[str, dict[str, str]]:
    return {r.id: {"severity": r.severity, **r.labels} for r in rules}


def load_rules(config: Any) -> tuple[list[Rule], str | None]:
    """Tuned rules when the file exists, plus every SLO's burn-rate rules."""
    settings = alerts_settings(config)
    tuned: list[Rule] = []
    error = None
    if Path(settings.rules_path).exists():
        try:
            tuned = read_rules(settings.rules_path)
        except RulesFileError as exc:
            error = str(exc)
    return [*tuned, *slo_rules(configured_slos(config))], error


def run_cycle(config: Any, store: Store, now: float,
              channels: Sequence[Notifier] | None = None, deadline_s: float = 30.0
              ) -> CycleResult:
    settings = alerts_settings(config)
    rules, error = load_rules(config)
    query = slo_query(store, configured_slos(config), store_query(store))
    if channels is None:
        channels = channels_from(settings, Path(settings.state_path).parent)
    states_db = AlertStore(settings.state_path)
    silences = SilenceStore(silence_path(config))
    try:
        states, changes = evaluate(rules, now, query, states_db.load())
        states_db.save(states, changes)
        labels = rule_labels(rules)
        send, muted = split_silenced(notifications(changes, settings.runbook_base_url),
                                     silences, now, labels)
        firing = {r for r, s in states.items() if s.state == "firing"}
        send += released(silences, firing, now, labels)
    finally:
        states_db.close()
        silences.close()
    deliver(send, channels, deadline_s)
    return CycleResult(states, tuple(changes), tuple(send), tuple(muted), len(rules), error)
