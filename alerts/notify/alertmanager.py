"""Alertmanager: POST /api/v2/alerts, which dedups, groups, silences and routes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import requests

from alerts.notify.base import Notification, SendResult
from alerts.notify.httppost import post_json
from alerts.notify.metrics import NotifyMetrics
from alerts.notify.webhook import MAX_TIMEOUTS, WebhookNotifier

# As Prometheus does: a firing alert carries ``endsAt`` a few evaluation intervals
# ahead and is re-sent every evaluation, so Alertmanager neither resolves it after its
# resolve_timeout nor forgets it when it restarts; if we stop sending, it ends itself.
RESEND_INTERVALS = 4
DEFAULT_ACTIVE_FOR_S = RESEND_INTERVALS * 60.0


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def alert_labels(n: Notification) -> dict[str, str]:
    """The alert's identity in Alertmanager: alertname, severity and the rule's labels,
    as the exported Prometheus rule gives them (``alerts.export``, ``alerts.slo_export``),
    so the same alert from the evaluator and from Prometheus is one alert. Who sent it
    is an annotation, not a label: a label would make them two."""
    return {**n.labels, "alertname": n.rule, "severity": n.severity}


def to_alertmanager(n: Notification, generator_url: str = "",
                    ends_at: float | None = None) -> dict:
    """The alert as Alertmanager takes it; ``ends_at`` bounds a firing one."""
    alert = {
        "labels": alert_labels(n),
        "annotations": {"summary": n.summary, "runbook": n.runbook, "source": "ionmon",
                        **({"runbook_url": n.runbook_url} if n.runbook_url else {}),
                        **({"checks": "\n".join(n.checks)} if n.checks else {}),
                        **({"metric": n.metric} if n.metric else {}),
                        **({"value": f"{n.value:.6g}"} if n.value is not None else {})},
        "startsAt": _iso(n.at if n.active_since is None else n.active_since),
    }
    if n.state == "resolved":
        alert["endsAt"] = _iso(n.at)
    elif ends_at is not None:
        alert["endsAt"] = _iso(ends_at)
    if generator_url:
        alert["generatorURL"] = generator_url
    return alert


class AlertmanagerNotifier:
    name = "alertmanager"

    def __init__(self, url: str, timeout_s: float = 5.0,
                 active_for_s: float = DEFAULT_ACTIVE_FOR_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.timeout_s = timeout_s
        self.active_for_s = active_for_s
        self._clock = clock  # Alertmanager's times are wall-clock times
        self._session = requests.Session()

    def send(self, notes: Sequence[Notification]) -> SendResult:
        if not notes:
            return SendResult.success()
        ends = self._clock() + self.active_for_s
        return post_json(self._session, self.url,
                         [to_alertmanager(n, ends_at=ends) for n in notes], self.timeout_s)

    def resend(self, active: Sequence[Notification], active_for_s: float) -> SendResult:
        return _resend(self._session, self.url, active, self._clock() + active_for_s,
                       self.timeout_s)


def _resend(session: requests.Session, url: str, active: Sequence[Notification],
            ends_at: float, timeout_s: float) -> SendResult:
    """One attempt, no queue: the next evaluation sends them again anyway."""
    firing = [to_alertmanager(n, ends_at=ends_at) for n in active if n.state == "firing"]
    if not firing:
        return SendResult.success()
    return post_json(session, url, firing, timeout_s)


class DurableAlertmanagerNotifier(WebhookNotifier):
    """Alertmanager behind the webhook's durable outbox: an outage longer than one
    retry deadline queues the change (across restarts) instead of losing it. Resending
    is safe: Alertmanager merges alerts with the same labels."""

    name = "alertmanager"

    def __init__(self, url: str, outbox_path: str | Path, max_queue: int = 1000,
                 timeout_s: float = 5.0, deadline_s: float = 30.0,
                 active_for_s: float = DEFAULT_ACTIVE_FOR_S,
                 clock: Callable[[], float] = time.time,
                 metrics: NotifyMetrics | None = None,
                 max_timeouts: int = MAX_TIMEOUTS) -> None:
        super().__init__(url.rstrip("/") + "/api/v2/alerts", outbox_path, max_queue,
                         timeout_s, deadline_s, metrics=metrics, max_timeouts=max_timeouts)
        self.active_for_s = active_for_s
        self._clock = clock

    def _post_one(self, key: str, body: str) -> SendResult:
        note = Notification(**json.loads(body))
        return post_json(self._session, self.url,
                         [to_alertmanager(note, ends_at=self._clock() + self.active_for_s)],
                         self.timeout_s)

    def resend(self, active: Sequence[Notification], active_for_s: float) -> SendResult:
        if self.pending:
            # Queued changes go first: a re-send must not overtake a queued resolution.
            return SendResult(False, True, "outbox not empty")
        return _resend(self._session, self.url, active, self._clock() + active_for_s,
                       self.timeout_s)
