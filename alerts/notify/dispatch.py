"""From state changes to channels: which changes notify, grouped, each channel retried."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from alerts.evaluator import Transition
from alerts.notify.base import Notification, Notifier, send_with_retry
from alerts.rules import SPECS_BY_ID
from alerts.settings import AlertsSettings

log = logging.getLogger("ionmon.alerts.notify")


def notifications(changes: Sequence[Transition]) -> list[Notification]:
    """Only firing and resolution notify: pending is not yet news, inactive no longer."""
    out = []
    for t in changes:
        if t.new == "firing" or (t.new == "resolved" and t.old == "firing"):
            spec = SPECS_BY_ID.get(t.rule)
            out.append(Notification(
                rule=t.rule, state=t.new, severity=t.alert.severity, summary=t.alert.summary,
                at=t.at, active_since=t.alert.active_since, metric=t.alert.metric,
                value=t.alert.value, runbook=spec.runbook if spec else ""))
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
    notes = notifications(changes)
    delivered = {c.name: True for c in channels}
    for batch in group(notes).values():
        for channel in channels:
            outcome = send_with_retry(lambda c=channel, b=batch: c.send(b),
                                      deadline_s=deadline_s, what=f"notify {channel.name}")
            delivered[channel.name] &= outcome.result.ok
    return delivered


def channels_from(settings: AlertsSettings, data_dir: Path) -> list[Notifier]:
    from alerts.notify.log import LogNotifier

    c = settings.channels
    out: list[Notifier] = [LogNotifier()] if c.log else []
    if c.webhook:
        from alerts.notify.webhook import WebhookNotifier
        out.append(WebhookNotifier(c.webhook.url, data_dir / "webhook_outbox.db",
                                   c.webhook.max_queue, c.webhook.timeout, c.webhook.deadline))
    if c.sentry:
        from alerts.notify.sentry import SentryNotifier
        out.append(SentryNotifier(c.sentry.dsn, c.sentry.environment))
    if c.alertmanager:
        from alerts.notify.alertmanager import AlertmanagerNotifier
        out.append(AlertmanagerNotifier(c.alertmanager.url, c.alertmanager.timeout))
    return out
