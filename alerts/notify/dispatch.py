"""From state changes to channels: which changes notify, grouped, each channel retried."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from alerts.evaluator import Transition
from alerts.notify.alertmanager import DEFAULT_ACTIVE_FOR_S, DurableAlertmanagerNotifier
from alerts.notify.base import Notification, Notifier, send_with_retry
from alerts.notify.log import LogNotifier
from alerts.notify.sentry import SentryNotifier
from alerts.notify.webhook import WebhookNotifier
from alerts.rules import SPECS_BY_ID
from alerts.runbooks import DEFAULT_BASE_URL, runbook_for
from alerts.settings import AlertsSettings

log = logging.getLogger("ionmon.alerts.notify")


def notifications(changes: Sequence[Transition], runbook_base: str = DEFAULT_BASE_URL
                  ) -> list[Notification]:
    """Only firing and resolution notify: pending is not yet news, inactive no longer."""
    out = []
    for t in changes:
        if t.new == "firing" or (t.new == "resolved" and t.old == "firing"):
            spec = SPECS_BY_ID.get(t.rule)
            book = runbook_for(t.rule)
            out.append(Notification(
                rule=t.rule, state=t.new, severity=t.alert.severity, summary=t.alert.summary,
                at=t.at, active_since=t.alert.active_since, metric=t.alert.metric,
                value=t.alert.value,
                runbook=spec.runbook if spec else (book.title if book else ""),
                runbook_url=book.url(runbook_base) if book else "",
                checks=book.checks if book else ()))
    return out


def group(notes: Sequence[Notification]) -> dict[str, list[Notification]]:
    """One message per severity per evaluation, most severe first."""
    order = {"critical": 0, "warning": 1, "info": 2}
    out: dict[str, list[Notification]] = {}
    for n in sorted(notes, key=lambda n: (order.get(n.severity, 9), n.rule)):
        out.setdefault(n.severity, []).append(n)
    return out


def notify_changes(changes: Sequence[Transition], channels: Sequence[Notifier],
                   deadline_s: float = 30.0) -> dict[str, bool]:
    """Send each group to each channel; one channel failing does not stop the others."""
    return deliver(notifications(changes), channels, deadline_s)


def deliver(notes: Sequence[Notification], channels: Sequence[Notifier],
            deadline_s: float = 30.0) -> dict[str, bool]:
    delivered = {c.name: True for c in channels}
    for batch in group(notes).values():
        for channel in channels:
            if hasattr(channel, "flush"):  # durable: retries on its own deadline, then queues
                delivered[channel.name] &= channel.send(batch).ok
                continue
            outcome = send_with_retry(lambda c=channel, b=batch: c.send(b),
                                      deadline_s=deadline_s, what=f"notify {channel.name}")
            delivered[channel.name] &= outcome.result.ok
    if not notes:
        # A durable channel's outbox is retried every evaluation, not only when something
        # changes: after an outage, what was queued goes out as soon as the receiver is back.
        for channel in channels:
            flush = getattr(channel, "flush", None)
            if flush is not None:
                delivered[channel.name] = flush().ok
    return delivered


def channels_from(settings: AlertsSettings, data_dir: Path,
                  active_for_s: float | None = None) -> list[Notifier]:
    """The configured channels; ``active_for_s`` is how long Alertmanager keeps a firing
    alert without hearing of it again (default: four minutes)."""
    c = settings.channels
    out: list[Notifier] = [LogNotifier()] if c.log else []
    if c.webhook:
        out.append(WebhookNotifier(c.webhook.url, data_dir / "webhook_outbox.db",
                                   c.webhook.max_queue, c.webhook.timeout, c.webhook.deadline))
    if c.sentry:
        out.append(SentryNotifier(c.sentry.dsn, c.sentry.environment))
    if c.alertmanager:
        out.append(DurableAlertmanagerNotifier(
            c.alertmanager.url, data_dir / "alertmanager_outbox.db",
            timeout_s=c.alertmanager.timeout,
            active_for_s=DEFAULT_ACTIVE_FOR_S if active_for_s is None else active_for_s))
    return out
