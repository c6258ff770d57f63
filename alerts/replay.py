"""Replay the rules over stored history on a virtual clock, as ``serve`` would have.

Every evaluation interval of the range goes through the same cycle as a live run
(``alerts.cycle.cycle_with``: evaluate, the state machine, history, silences,
dispatch), with the clock set to that minute. Only the reads differ: the series are
read from the store once, and each evaluation is answered from memory with the live
queries' semantics (the latest sample within the staleness bound; the SLO burn-rate
series over the same trailing windows), so a week replays in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from alerts.cycle import cycle_with, load_rules
from alerts.evaluator import STALENESS_S, AlertState, Query, Transition, latest_index
from alerts.notify.alertmanager import RESEND_INTERVALS
from alerts.notify.base import Notification, Notifier
from alerts.notify.dispatch import Dispatcher, drain_bound
from alerts.notify.metrics import NotifyMetrics
from alerts.rules import Rule
from alerts.settings import Alerting
from alerts.silence import SilenceStore
from alerts.slo import SLO
from alerts.slo_rules import _windows, condition_series, query_from_arrays, read_indicator
from alerts.state import AlertStore
from monitoring.catalog import RECORDED
from monitoring.store.base import Series, Store


@dataclass(frozen=True)
class ReplayResult:
    start: float  # first evaluation replayed
    end: float  # last evaluation replayed
    evaluations: int
    rules: int
    changes: int  # state changes recorded
    fired: int  # transitions to firing
    sent: int  # notifications handed to the channels
    rules_error: str | None = None


class HeldStates:
    """``StatesDB`` in memory: the states of the last cycle and the notifications not yet
    handed to a durable outbox."""

    def __init__(self) -> None:
        self._states: dict[str, AlertState] = {}
        self._notes: dict[str, Notification] = {}

    def load(self) -> dict[str, AlertState]:
        return dict(self._states)

    def save(self, states: dict[str, AlertState], changes: Sequence[Transition],
             notes: Sequence[Notification] = ()) -> None:
        self._states = dict(states)
        for n in notes:
            self._notes.setdefault(n.key, n)

    def unqueued(self) -> list[Notification]:
        return list(self._notes.values())

    def mark_queued(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._notes.pop(key, None)


def memory_query(series: Mapping[str, Series], staleness_s: float = STALENESS_S) -> Query:
    """``store_query`` over series read once: the latest sample at or before ``now``
    within ``staleness_s``, None when there is none."""
    arrays = {k: (np.asarray(s.ts, dtype=float), np.asarray(s.values, dtype=float))
              for k, s in series.items()}

    def query(metric: str, now: float) -> float | None:
        got = arrays.get(metric)
        if got is None:
            return None
        ts, values = got
        i = latest_index(ts, now, staleness_s)
        return None if i is None else float(values[i])
    return query


def slo_memory_query(store: Store, slos: Sequence[SLO], start: float, end: float,
                     fallback: Query) -> Query:
    """``slo_query`` for every evaluation in [start, end]: each SLO's indicator read once
    (with its longest window before ``start``), its burn-rate series computed in one
    pass; other ids go to ``fallback``."""
    query = fallback
    for slo in slos:
        ts, values, weights = read_indicator(store, slo, start - max(_windows(slo)), end)
        if len(ts):
            query = query_from_arrays(ts, condition_series(slo, ts, values, weights), query)
    return query


def rule_metrics(rules: Sequence[Rule]) -> list[str]:
    """The stored series the rules read (SLO burn-rate series are computed, not stored)."""
    return sorted({b.metric for r in rules for b in r.bounds} & set(RECORDED))


def replay(alerting: Alerting, store: Store, start: float, end: float,
           channels: Sequence[Notifier], step_s: float | None = None,
           on_step: Callable[[int, int], None] | None = None,
           deadline_s: float = 30.0) -> ReplayResult:
    """Evaluate the rules in force (tuned and SLO burn-rate) at every ``step_s`` (the
    evaluation interval) in (start, end], recording state and history in the alert
    store and notifying ``channels`` as a live run would.

    An alert store that was already evaluated inside the range carries on from its
    last evaluation, so history is never written twice.
    """
    settings = alerting.settings
    step = step_s or alerting.evaluate_interval_s
    rules, error = load_rules(alerting)
    saved = AlertStore(settings.state_path)
    # The cycles keep state in memory and the result is saved in one transaction:
    # the same cycle, without a disk commit per minute.
    states_db = HeldStates()
    silences = SilenceStore(alerting.silence_path)
    dispatcher = Dispatcher(channels, deadline_s, NotifyMetrics(), own_channels=False)
    grid = np.empty(0)
    changes: list[Transition] = []
    fired = sent = 0
    try:
        prior = saved.load()
        states_db.save(prior, [])
        last = max((s.last_eval for s in prior.values() if s.last_eval is not None),
                   default=None)
        first = np.floor(start / step) * step + step
        if last is not None and last >= first:
            first = np.floor(last / step) * step + step
        grid = np.arange(first, end + step / 2, step)
        lo = float(first) - STALENESS_S
        stored = store.read_many(rule_metrics(rules), lo, end)
        query = slo_memory_query(store, alerting.slos, lo, end, memory_query(stored))
        states = prior
        for n, now in enumerate(grid.tolist(), 1):
            result = cycle_with(alerting, now, rules, error, query, dispatcher,
                                RESEND_INTERVALS * step, states_db, silences)
            states = result.states
            changes.extend(result.changes)
            fired += sum(t.new == "firing" for t in result.changes)
            sent += len(result.sent)
            if on_step is not None:
                on_step(n, len(grid))
        if len(grid):
            saved.save(states, changes)
    finally:
        dispatcher.close(drain_s=drain_bound(dispatcher))
        saved.close()
        silences.close()
    return ReplayResult(float(grid[0]) if len(grid) else end, float(end), len(grid),
                        len(rules) + 1, len(changes), fired, sent, error)
