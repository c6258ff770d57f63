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
from alerts.notify import dispatch
from alerts.notify.alertmanager import RESEND_INTERVALS
from alerts.notify.base import Notification, Notifier
from alerts.notify.dispatch import deliver, notifications
from alerts.rules import Rule, RulesFileError, read_rules
from alerts.settings import alerts_settings
from alerts.silence import SilenceStore, alert_labels, released, split_silenced
from alerts.slo import SLO, default_slos
from alerts.slo_rules import slo_query, slo_rules
from alerts.state import AlertStore
from monitoring.scheduler import ScheduleSettings
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
    """Tuned rules when the file exists (less those written disabled), plus every SLO's
    burn-rate rules."""
    settings = alerts_settings(config)
    tuned: list[Rule] = []
    error = None
    if Path(settings.rules_path).exists():
        try:
            tuned = [r for r in read_rules(settings.rules_path) if not r.disabled]
        except RulesFileError as exc:
            error = str(exc)
    return [*tuned, *slo_rules(configured_slos(config))], error


def handoff(states_db: AlertStore, durable: Sequence[Notifier]) -> int:
    """Queue every saved, not yet queued notification in each durable outbox."""
    notes = states_db.unqueued()
    if notes:
        for channel in durable:
            channel.enqueue(notes)  # type: ignore[attr-defined]
        states_db.mark_queued([n.key for n in notes])
    return len(notes)


def firing_notifications(states: dict[str, AlertState], runbook_base: str
                         ) -> list[Notification]:
    """Every alert firing now, as its firing notification (for channels that re-send)."""
    return notifications([Transition(r, s.fired_at if s.fired_at is not None else 0.0,
                                     "pending", "firing", s)
                          for r, s in sorted(states.items()) if s.state == "firing"],
                         runbook_base)


def run_cycle(config: Any, store: Store, now: float,
              channels: Sequence[Notifier] | None = None, deadline_s: float = 30.0,
              resend_for_s: float | None = None) -> CycleResult:
    """Evaluate, save, hand off, deliver; then re-send what fires to channels that want
    it (Alertmanager), bounded ``resend_for_s`` ahead (default: four evaluation
    intervals)."""
    settings = alerts_settings(config)
    rules, error = load_rules(config)
    query = slo_query(store, configured_slos(config), store_query(store))
    if resend_for_s is None:
        resend_for_s = RESEND_INTERVALS * ScheduleSettings.from_config(config).evaluate_interval_s
    owned = channels is None  # made here, so closed here (each holds an outbox file)
    if channels is None:
        # Looked up at call time, so a harness can swap the factory whenever it is
        # imported (the soak counts deliveries this way).
        channels = dispatch.channels_from(settings, Path(settings.state_path).parent,
                                          resend_for_s)
    try:
        return _cycle(config, now, rules, error, query, channels, deadline_s,
                      resend_for_s)
    finally:
        if owned:
            for channel in channels:
                getattr(channel, "close", lambda: None)()


def _cycle(config: Any, now: float, rules: list[Rule], error: str | None,
           query: Any, channels: Sequence[Notifier], deadline_s: float,
           resend_for_s: float) -> CycleResult:
    settings = alerts_settings(config)
    states_db = AlertStore(settings.state_path)
    silences = SilenceStore(silence_path(config))
    try:
        states, changes = evaluate(rules, now, query, states_db.load())
        labels = rule_labels(rules)
        send, muted = split_silenced(notifications(changes, settings.runbook_base_url),
                                     silences, now, labels)
        firing = {r for r, s in states.items() if s.state == "firing"}
        send += released(silences, firing, now, labels)
        durable = [c for c in channels if hasattr(c, "enqueue")]
        # The notifications are saved with the state, then handed to the durable
        # outboxes: a crash in between leaves them saved, and the next cycle queues them
        # (an outbox ignores a key it already holds or sent, so none goes out twice).
        states_db.save(states, changes, send if durable else ())
        handoff(states_db, durable)
        sent_rules = {n.rule for n in send}
        active = [n for n in firing_notifications(states, settings.runbook_base_url)
                  if n.rule not in sent_rules
                  and silences.silencing(alert_labels(n, labels.get(n.rule)), now) is None]
    finally:
        states_db.close()
        silences.close()
    deliver(send, channels, deadline_s)
    for channel in channels:
        resend = getattr(channel, "resend", None)
        if resend is not None and active:
            resend(active, resend_for_s)  # a failure is retried at the next evaluation
    return CycleResult(states, tuple(changes), tuple(send), tuple(muted), len(rules), error)
