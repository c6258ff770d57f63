"""What became of every notification, per channel: delivered, retried, duplicated by a
timeout, dropped. The counters live in a registry this layer owns (the shell serves it
on ``/metrics``); ``snapshot()`` gives the same figures as plain data for ``/status``.

A drop also raises an alert of its own: ``dropped_query`` answers the virtual series
``notifications_dropped`` (drops within the last ``window_s``) that ``DROPPED_RULE``
watches, so the alert goes through the normal evaluate → silence → deliver path.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from alerts.evaluator import Query
from alerts.rules import Bound, Rule

OUTCOMES = ("delivered", "retried", "duplicated_by_timeout", "dropped")
DROPPED_METRIC = "notifications_dropped"
DROPPED_WINDOW_S = 15 * 60.0
DROPPED_RULE = Rule(
    "notifications_dropped", (Bound(DROPPED_METRIC, ">", 0.0),), 0.0, "warning",
    "notifications were dropped by a channel: some alert changes never reached it",
    "check the channel's receiver; /status shows each channel's drops and their reason")
_KEEP_DROPS = 10_000  # drop events remembered for the alert window


class NotifyMetrics:
    """Thread-safe counters per channel, in ``registry``; every drop is also kept with
    its time and reason for the drop alert."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}
        self._queued: dict[str, Callable[[], int]] = {}
        self._last_drop: dict[str, str] = {}
        self._drops: deque[tuple[float, str, int]] = deque(maxlen=_KEEP_DROPS)
        self._counters = {
            "delivered": Counter("ionmon_notifications_delivered",
                                 "Notifications a channel's receiver accepted.", ["channel"],
                                 registry=self.registry),
            "retried": Counter("ionmon_notifications_retried",
                               "Notification sends that were attempts after the first.",
                               ["channel"], registry=self.registry),
            "duplicated_by_timeout": Counter(
                "ionmon_notifications_duplicated_by_timeout",
                "Re-sends of a notification whose earlier send timed out (the receiver "
                "may already have it: it sees the same Idempotency-Key).", ["channel"],
                registry=self.registry),
            "dropped": Counter("ionmon_notifications_dropped",
                               "Notifications that will never reach the channel's receiver.",
                               ["channel", "reason"], registry=self.registry),
        }
        self._queued_gauge = Gauge("ionmon_notifications_queued",
                                   "Notifications waiting for delivery.", ["channel"],
                                   registry=self.registry)

    def channel(self, name: str, queued: Callable[[], int] | None = None) -> None:
        """Make a channel known (its counters show as 0 before anything happens);
        ``queued`` reports how many notifications wait for it."""
        with self._lock:
            self._counts.setdefault(name, dict.fromkeys(OUTCOMES, 0))
            if queued is not None:
                self._queued[name] = queued
        for outcome in ("delivered", "retried", "duplicated_by_timeout"):
            self._counters[outcome].labels(name)
        gauge = self._queued_gauge.labels(name)
        if queued is not None:
            gauge.set_function(lambda q=queued: float(q()))

    def count(self, channel: str, outcome: str, n: int = 1, reason: str = "") -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown notification outcome {outcome!r}; "
                             f"expected one of {', '.join(OUTCOMES)}")
        if n <= 0:
            return
        with self._lock:
            self._counts.setdefault(channel, dict.fromkeys(OUTCOMES, 0))[outcome] += n
            if outcome == "dropped":
                self._drops.append((self._clock(), channel, n))
                self._last_drop[channel] = reason
        if outcome == "dropped":
            self._counters["dropped"].labels(channel, _reason_kind(reason)).inc(n)
        else:
            self._counters[outcome].labels(channel).inc(n)

    def dropped_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(n for at, _, n in self._drops if start < at <= end)

    def snapshot(self) -> dict[str, dict[str, int | str]]:
        """Per channel: each outcome's count, what is queued, and the last drop's reason."""
        with self._lock:
            counts = {c: dict(v) for c, v in self._counts.items()}
            queued = dict(self._queued)
            last = dict(self._last_drop)
        out: dict[str, dict[str, int | str]] = {}
        for name in sorted(counts):
            row: dict[str, int | str] = dict(counts[name])
            if name in queued:
                row["queued"] = queued[name]()
            row["last_drop_reason"] = last.get(name, "")
            out[name] = row
        return out


def _reason_kind(reason: str) -> str:
    """A bounded label value: the reason's first word ("outbox full", "client", ...)."""
    head = reason.split(":", 1)[0].strip()
    return head[:40] or "unknown"


def dropped_query(metrics: NotifyMetrics, fallback: Query,
                  window_s: float = DROPPED_WINDOW_S) -> Query:
    """``notifications_dropped`` is the number of drops in the ``window_s`` before
    ``now``; every other series goes to ``fallback``."""
    def query(metric: str, now: float) -> float | None:
        if metric == DROPPED_METRIC:
            return float(metrics.dropped_between(now - window_s, now))
        return fallback(metric, now)
    return query
