"""One evaluation cycle: tuned rules and SLO burn-rate rules, state saved, silences applied.

Order as in Alertmanager: evaluate → record every state change → silence → deliver.
A silenced change is recorded and held; held changes are delivered once their silence
ends (``alerts.silence``). Delivery is handed to a ``Dispatcher`` (a worker per
channel): with one that lives as long as the process (``serve``), an evaluation never
waits on a receiver. Notifications a channel dropped raise ``notifications_dropped``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from alerts.evaluator import AlertState, Query, Transition, evaluate, store_query
from alerts.notify import dispatch
from alerts.notify.alertmanager import RESEND_INTERVALS
from alerts.notify.base import Notification, Notifier
from alerts.notify.dispatch import Dispatcher, drain_bound, notifications
from alerts.notify.metrics import DROPPED_RULE, NotifyMetrics, dropped_query
from alerts.rules import Rule, RulesFileError, read_rules
from alerts.settings import Alerting
from alerts.silence import SilenceStore, alert_labels, released, split_silenced
from alerts.slo_rules import slo_query, slo_rules
from alerts.state import AlertStore
from monitoring.store.base import Store


class StatesDB(Protocol):
    """Where a cycle keeps alert state, history and unqueued notifications
    (``alerts.state.AlertStore``; a replay holds them in memory)."""

    def load(self) -> dict[str, AlertState]: ...

    def save(self, states: dict[str, AlertState], changes: Sequence[Transition],
             notes: Sequence[Notification] = ()) -> None: ...

    def unqueued(self) -> list[Notification]: ...

    def mark_queued(self, keys: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class EvaluationResult:
    states: dict[str, AlertState]
    changes: tuple[Transition, ...]
    sent: tuple[Notification, ...]
    muted: tuple[Notification, ...]
    rules: int
    rules_error: str | None = None  # the tuned rules file could not be read


def rule_labels(rules: Sequence[Rule]) -> dict[str, dict[str, str]]:
    return {r.id: {"severity": r.severity, **r.labels} for r in rules}


def load_rules(alerting: Alerting) -> tuple[list[Rule], str | None]:
    """Tuned rules when the file exists (less those written disabled), plus every SLO's
    burn-rate rules."""
    settings = alerting.settings
    tuned: list[Rule] = []
    error = None
    if Path(settings.rules_path).exists():
        try:
            tuned = [r for r in read_rules(settings.rules_path) if not r.disabled]
        except RulesFileError as exc:
            error = str(exc)
    return [*tuned, *slo_rules(alerting.slos)], error


def handoff(states_db: StatesDB, durable: Sequence[Notifier]) -> int:
    """Queue every saved, not yet queued notification in each durable outbox."""
    notes = states_db.unqueued()
    if notes:
        for channel in durable:
            channel.enqueue(notes)  # type: ignore[attr-defined]
        states_db.mark_queued([n.key for n in notes])
    return len(notes)


def firing_notifications(states: dict[str, AlertState], runbook_base: str,
                         labels: Mapping[str, Mapping[str, str]] | None = None
                         ) -> list[Notification]:
    """Every alert firing now, as its firing notification (for channels that re-send)."""
    return notifications([Transition(r, s.fired_at if s.fired_at is not None else 0.0,
                                     "pending", "firing", s)
                          for r, s in sorted(states.items()) if s.state == "firing"],
                         runbook_base, labels)


def open_dispatcher(alerting: Alerting, metrics: NotifyMetrics | None = None,
                    deadline_s: float = 30.0) -> Dispatcher:
    """The configured channels, each on its own worker, for a process that evaluates
    again and again; ``close()`` it at shutdown (outboxes keep what is left)."""
    settings = alerting.settings
    metrics = metrics if metrics is not None else NotifyMetrics()
    resend_for_s = RESEND_INTERVALS * alerting.evaluate_interval_s
    channels = dispatch.channels_from(settings, Path(settings.state_path).parent,
                                      resend_for_s, metrics)
    return Dispatcher(channels, deadline_s, metrics, own_channels=True)


def run_cycle(alerting: Alerting, store: Store, now: float,
              channels: Sequence[Notifier] | None = None, deadline_s: float = 30.0,
              resend_for_s: float | None = None,
              dispatcher: Dispatcher | None = None) -> EvaluationResult:
    """Evaluate, save, hand off, deliver; then re-send what fires to channels that want
    it (Alertmanager), bounded ``resend_for_s`` ahead (default: four evaluation
    intervals).

    With ``dispatcher`` (one per process, see ``open_dispatcher``) delivery goes on in
    its workers after this returns. Without, the channels (``channels``, or the
    configured ones) get a dispatcher for this cycle, which is drained before return."""
    settings = alerting.settings
    rules, error = load_rules(alerting)
    query = slo_query(store, alerting.slos, store_query(store))
    if resend_for_s is None:
        resend_for_s = RESEND_INTERVALS * alerting.evaluate_interval_s
    if dispatcher is not None:
        return _cycle(alerting, now, rules, error, query, dispatcher, resend_for_s)
    owned = channels is None  # made here, so closed here (each holds an outbox file)
    metrics = NotifyMetrics()
    if channels is None:
        # Looked up at call time, so a harness can swap the factory whenever it is
        # imported (the soak counts deliveries this way).
        channels = dispatch.channels_from(settings, Path(settings.state_path).parent,
                                          resend_for_s, metrics)
    once = Dispatcher(channels, deadline_s, metrics, own_channels=owned)
    try:
        return _cycle(alerting, now, rules, error, query, once, resend_for_s)
    finally:
        once.close(drain_s=drain_bound(once))


def _cycle(alerting: Alerting, now: float, rules: list[Rule], error: str | None,
           query: Query, dispatcher: Dispatcher, resend_for_s: float) -> EvaluationResult:
    states_db = AlertStore(alerting.settings.state_path)
    silences = SilenceStore(alerting.silence_path)
    try:
        return cycle_with(alerting, now, rules, error, query, dispatcher, resend_for_s,
                          states_db, silences)
    finally:
        states_db.close()
        silences.close()


def cycle_with(alerting: Alerting, now: float, rules: list[Rule], error: str | None,
               query: Query, dispatcher: Dispatcher, resend_for_s: float,
               states_db: StatesDB, silences: SilenceStore) -> EvaluationResult:
    """One cycle against open state and silence stores (a replay keeps them open)."""
    settings = alerting.settings
    rules = [*rules, DROPPED_RULE]
    query = dropped_query(dispatcher.metrics, query)
    states, changes = evaluate(rules, now, query, states_db.load())
    labels = rule_labels(rules)
    send, muted = split_silenced(notifications(changes, settings.runbook_base_url, labels),
                                 silences, now, labels)
    firing = {r for r, s in states.items() if s.state == "firing"}
    send += released(silences, firing, now, labels)
    durable = dispatcher.durable
    # The notifications are saved with the state, then handed to the durable
    # outboxes: a crash in between leaves them saved, and the next cycle queues them
    # (an outbox ignores a key it already holds or sent, so none goes out twice).
    states_db.save(states, changes, send if durable else ())
    handoff(states_db, durable)
    sent_rules = {n.rule for n in send}
    active = [n for n in firing_notifications(states, settings.runbook_base_url, labels)
              if n.rule not in sent_rules
              and silences.silencing(alert_labels(n, labels.get(n.rule)), now) is None]
    dispatcher.submit(send)
    dispatcher.resend(active, resend_for_s)  # a failure is retried at the next evaluation
    return EvaluationResult(states, tuple(changes), tuple(send), tuple(muted), len(rules), error)
