"""From state changes to channels: which changes notify, grouped, and each channel on
a worker of its own.

A ``ChannelWorker`` is one thread per channel with its own queue and deadline, so a
slow or hung receiver delays only itself; a ``Dispatcher`` hands each evaluation's
notifications to every worker and returns at once. Durable channels (webhook,
Alertmanager) keep their queue in their outbox; the others in a bounded memory queue.
Every outcome is counted per channel in a ``NotifyMetrics``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from alerts.evaluator import Transition
from alerts.notify.alertmanager import DEFAULT_ACTIVE_FOR_S, DurableAlertmanagerNotifier
from alerts.notify.base import Notification, Notifier, SendResult, send_with_retry
from alerts.notify.log import LogNotifier
from alerts.notify.metrics import NotifyMetrics
from alerts.notify.sentry import SentryNotifier
from alerts.notify.webhook import WebhookNotifier
from alerts.rules import SPECS_BY_ID
from alerts.runbooks import DEFAULT_BASE_URL, runbook_for
from alerts.settings import AlertsSettings

log = logging.getLogger("ionmon.alerts.notify")

QUEUE_SIZE = 1000  # notifications a memory-queued channel holds before dropping the oldest
JOIN_S = 1.0  # how long closing waits for a worker to notice it should stop


def notifications(changes: Sequence[Transition], runbook_base: str = DEFAULT_BASE_URL,
                  labels: Mapping[str, Mapping[str, str]] | None = None
                  ) -> list[Notification]:
    """Only firing and resolution notify: pending is not yet news, inactive no longer.
    ``labels``: each rule's labels by rule id (severity among them is the alert's own)."""
    out = []
    for t in changes:
        extra = {k: v for k, v in (labels or {}).get(t.rule, {}).items()
                 if k not in ("alertname", "severity")}
        if t.new == "firing" or (t.new == "resolved" and t.old == "firing"):
            spec = SPECS_BY_ID.get(t.rule)
            book = runbook_for(t.rule)
            out.append(Notification(
                rule=t.rule, state=t.new, severity=t.alert.severity, summary=t.alert.summary,
                at=t.at, active_since=t.alert.active_since, metric=t.alert.metric,
                value=t.alert.value,
                runbook=spec.runbook if spec else (book.title if book else ""),
                runbook_url=book.url(runbook_base) if book else "",
                checks=book.checks if book else (), labels=extra))
    return out


def group(notes: Sequence[Notification]) -> dict[str, list[Notification]]:
    """One message per severity per evaluation, most severe first."""
    order = {"critical": 0, "warning": 1, "info": 2}
    out: dict[str, list[Notification]] = {}
    for n in sorted(notes, key=lambda n: (order.get(n.severity, 9), n.rule)):
        out.setdefault(n.severity, []).append(n)
    return out


class _Stopped(Exception):
    """Raised in a worker's back-off sleep when its dispatcher closes."""


class ChannelWorker:
    """One channel's own thread, queue and deadline: nothing it does waits on another
    channel, and nobody waits on it."""

    def __init__(self, channel: Notifier, deadline_s: float, metrics: NotifyMetrics,
                 queue_size: int = QUEUE_SIZE) -> None:
        self.channel = channel
        self.name = channel.name
        self.durable = hasattr(channel, "flush") and hasattr(channel, "enqueue")
        self.deadline_s = float(getattr(channel, "deadline_s", deadline_s)
                                if self.durable else deadline_s)
        self.metrics = metrics
        self.queue_size = queue_size
        self.failures = 0  # deliveries that ended undelivered (retried later if durable)
        self._cond = threading.Condition()
        self._batches: deque[list[Notification]] = deque()
        self._flush = False
        self._resend: tuple[list[Notification], float] | None = None
        self._busy = False
        self._stop = threading.Event()
        if not self.durable:
            metrics.channel(self.name, queued=self._queued)
        self._thread = threading.Thread(target=self._run, name=f"notify-{self.name}",
                                        daemon=True)
        self._thread.start()

    # -- from the evaluation (never blocks on delivery) -------------------------------

    def put(self, batch: Sequence[Notification]) -> None:
        if self.durable:
            self.channel.enqueue(batch)  # type: ignore[attr-defined]
            self.wake()
            return
        dropped = 0
        with self._cond:
            self._batches.append(list(batch))
            while sum(len(b) for b in self._batches) > self.queue_size:
                dropped += len(self._batches.popleft())
            self._cond.notify_all()
        if dropped:
            log.warning("notify %s: queue full (%d), dropped %d oldest", self.name,
                        self.queue_size, dropped)
            self.metrics.count(self.name, "dropped", dropped, "queue full")

    def wake(self) -> None:
        """A durable channel delivers what its outbox holds."""
        if self.durable:
            with self._cond:
                self._flush = True
                self._cond.notify_all()

    def resend(self, active: Sequence[Notification], active_for_s: float) -> None:
        """Only the latest set matters: it replaces one not yet sent."""
        if hasattr(self.channel, "resend"):
            with self._cond:
                self._resend = (list(active), active_for_s)
                self._cond.notify_all()

    # -- state -------------------------------------------------------------------------

    def _queued(self) -> int:
        with self._cond:
            return sum(len(b) for b in self._batches)

    def _idle(self) -> bool:
        return not (self._busy or self._batches or self._flush or self._resend)

    def wait_idle(self, timeout_s: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(self._idle, timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, join_s: float = JOIN_S) -> int:
        """Stop the thread; returns the memory-queued notifications it leaves unsent."""
        with self._cond:
            self._stop.set()
            left = sum(len(b) for b in self._batches)
            self._batches.clear()
            self._cond.notify_all()
        self._thread.join(join_s)
        if left:
            self.metrics.count(self.name, "dropped", left, "stopped")
        return left

    # -- the worker ----------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    def _next(self) -> tuple[str, object] | None:
        self._cond.wait_for(lambda: self._stop.is_set() or not self._idle())
        if self._stop.is_set():
            return None
        self._busy = True
        if self._batches:
            return "send", self._batches.popleft()
        if self._flush:
            self._flush = False
            return "flush", None
        job, self._resend = self._resend, None
        return "resend", job

    def _run(self) -> None:
        while True:
            with self._cond:
                job = self._next()
            if job is None:
                return
            try:
                self._do(*job)
            except _Stopped:
                return
            except Exception:  # a channel's own bug: logged, the worker goes on
                self.failures += 1
                log.exception("notify %s: delivery raised", self.name)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _do(self, kind: str, arg: object) -> None:
        if kind == "send":
            self._send(arg)  # type: ignore[arg-type]
        elif kind == "flush":
            if not self.channel.flush(sleep=self._sleep).ok:  # type: ignore[attr-defined]
                self.failures += 1
        elif arg is not None:
            active, active_for_s = arg  # type: ignore[misc]
            self.channel.resend(active, active_for_s)  # type: ignore[attr-defined]

    def _send(self, batch: list[Notification]) -> None:
        tries = timeouts = 0

        def attempt() -> SendResult:
            nonlocal tries, timeouts
            if tries:
                self.metrics.count(self.name, "retried", len(batch))
            if timeouts:
                self.metrics.count(self.name, "duplicated_by_timeout", len(batch))
            tries += 1
            result = self.channel.send(batch)
            timeouts += result.timed_out
            return result

        outcome = send_with_retry(attempt, deadline_s=self.deadline_s, sleep=self._sleep,
                                  what=f"notify {self.name}")
        if outcome.result.ok:
            self.metrics.count(self.name, "delivered", len(batch))
        else:
            self.failures += 1
            self.metrics.count(self.name, "dropped", len(batch), outcome.result.reason)


class Dispatcher:
    """Every channel on its own worker; ``submit`` and ``resend`` return at once."""

    def __init__(self, channels: Sequence[Notifier], deadline_s: float = 30.0,
                 metrics: NotifyMetrics | None = None, queue_size: int = QUEUE_SIZE,
                 own_channels: bool = False) -> None:
        self.metrics = metrics if metrics is not None else NotifyMetrics()
        self.channels = list(channels)
        self.deadline_s = deadline_s
        self._own = own_channels
        self.workers = [ChannelWorker(c, deadline_s, self.metrics, queue_size)
                        for c in self.channels]

    @property
    def durable(self) -> list[Notifier]:
        return [w.channel for w in self.workers if w.durable]

    def submit(self, notes: Sequence[Notification]) -> None:
        """Each severity group to each channel; durable outboxes are delivered even when
        nothing changed, so what an outage queued goes out as soon as it is over."""
        for batch in group(notes).values():
            for w in self.workers:
                w.put(batch)
        for w in self.workers:
            w.wake()

    def resend(self, active: Sequence[Notification], active_for_s: float) -> None:
        if active:
            for w in self.workers:
                w.resend(active, active_for_s)

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Until every worker has nothing left to do (or ``timeout_s`` passes)."""
        end = None if timeout_s is None else time.monotonic() + timeout_s
        for w in self.workers:
            left = None if end is None else max(0.0, end - time.monotonic())
            if not w.wait_idle(left):
                return False
        return True

    def close(self, drain_s: float = 0.0, join_s: float = JOIN_S) -> None:
        """Let the workers finish for up to ``drain_s``, then stop them. Durable outboxes
        keep what is left; a channel whose worker is still stuck is not closed under it."""
        if drain_s > 0:
            self.wait_idle(drain_s)
        for w in self.workers:
            w.stop(join_s)
        if self._own:
            for w in self.workers:
                if w.alive:
                    log.warning("notify %s: worker still busy at close; abandoned", w.name)
                    continue
                getattr(w.channel, "close", lambda: None)()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def notify_changes(changes: Sequence[Transition], channels: Sequence[Notifier],
                   deadline_s: float = 30.0) -> dict[str, bool]:
    """Send each group to each channel and wait; one channel failing or hanging does not
    hold up the others."""
    return deliver(notifications(changes), channels, deadline_s)


def deliver(notes: Sequence[Notification], channels: Sequence[Notifier],
            deadline_s: float = 30.0) -> dict[str, bool]:
    """``Dispatcher.submit`` once, waiting until every channel is done: for one-shot runs.
    Returns, per channel, whether everything went out."""
    dispatcher = Dispatcher(channels, deadline_s)
    try:
        dispatcher.submit(notes)
        dispatcher.wait_idle(drain_bound(dispatcher))
        return {w.name: w.failures == 0 and w.wait_idle(0) for w in dispatcher.workers}
    finally:
        dispatcher.close()


def drain_bound(dispatcher: Dispatcher) -> float:
    """Long enough for every channel to run out its own deadline once, and a margin."""
    longest = max((w.deadline_s for w in dispatcher.workers), default=0.0)
    return 2 * longest + 30.0


def channels_from(settings: AlertsSettings, data_dir: Path,
                  active_for_s: float | None = None,
                  metrics: NotifyMetrics | None = None) -> list[Notifier]:
    """The configured channels; ``active_for_s`` is how long Alertmanager keeps a firing
    alert without hearing of it again (default: four minutes). Durable channels count
    their outcomes in ``metrics``."""
    c = settings.channels
    out: list[Notifier] = [LogNotifier()] if c.log else []
    if c.webhook:
        out.append(WebhookNotifier(c.webhook.url, data_dir / "webhook_outbox.db",
                                   c.webhook.max_queue, c.webhook.timeout, c.webhook.deadline,
                                   metrics=metrics))
    if c.sentry:
        out.append(SentryNotifier(c.sentry.dsn, c.sentry.environment))
    if c.alertmanager:
        out.append(DurableAlertmanagerNotifier(
            c.alertmanager.url, data_dir / "alertmanager_outbox.db",
            timeout_s=c.alertmanager.timeout,
            active_for_s=DEFAULT_ACTIVE_FOR_S if active_for_s is None else active_for_s,
            metrics=metrics))
    return out
