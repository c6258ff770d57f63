"""Alertmanager: POST /api/v2/alerts, which dedups, groups, silences and routes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import requests

from alerts.notify.base import Notification, SendResult
from alerts.notify.httppost import post_json
from alerts.notify.webhook import WebhookNotifier


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def to_alertmanager(n: Notification, generator_url: str = "") -> dict:
    alert = {
        "labels": {"alertname": n.rule, "severity": n.severity, "source": "ionmon"},
        "annotations": {"summary": n.summary, "runbook": n.runbook,
                        **({"runbook_url": n.runbook_url} if n.runbook_url else {}),
                        **({"checks": "\n".join(n.checks)} if n.checks else {}),
                        **({"metric": n.metric} if n.metric else {}),
                        **({"value": f"{n.value:.6g}"} if n.value is not None else {})},
        "startsAt": _iso(n.at if n.active_since is None else n.active_since),
    }
    if n.state == "resolved":
        alert["endsAt"] = _iso(n.at)
    if generator_url:
        alert["generatorURL"] = generator_url
    return alert


class AlertmanagerNotifier:
    name = "alertmanager"

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def send(self, notes: Sequence[Notification]) -> SendResult:
        if not notes:
            return SendResult.success()
        return post_json(self._session, self.url, [to_alertmanager(n) for n in notes],
                         self.timeout_s)


class DurableAlertmanagerNotifier(WebhookNotifier):
    """Alertmanager behind the webhook's durable outbox: an outage longer than one
    retry deadline queues the change (across restarts) instead of losing it. Resending
    is safe: Alertmanager merges alerts with the same labels."""

    name = "alertmanager"

    def __init__(self, url: str, outbox_path: str | Path, max_queue: int = 1000,
                 timeout_s: float = 5.0, deadline_s: float = 30.0) -> None:
        super().__init__(url.rstrip("/") + "/api/v2/alerts", outbox_path, max_queue,
                         timeout_s, deadline_s)

    def _post_one(self, key: str, body: str) -> SendResult:
        note = Notification(**json.loads(body))
        return post_json(self._session, self.url, [to_alertmanager(note)], self.timeout_s)
