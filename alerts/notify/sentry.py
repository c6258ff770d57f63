"""Sentry: one event per alert change, grouped per rule by fingerprint."""

from __future__ import annotations

from collections.abc import Sequence

import sentry_sdk

from alerts.notify.base import Notification, SendResult

_LEVELS = {"critical": "error", "warning": "warning", "info": "info"}


class SentryNotifier:
    name = "sentry"

    def __init__(self, dsn: str, environment: str = "production",
                 flush_timeout_s: float = 5.0) -> None:
        # An own client, not sentry_sdk.init: the process's global error reporting
        # (if any) stays as configured.
        self._client = sentry_sdk.Client(dsn=dsn, environment=environment,
                                         default_integrations=False, max_breadcrumbs=0)
        self.flush_timeout_s = flush_timeout_s

    def send(self, notes: Sequence[Notification]) -> SendResult:
        for n in notes:
            with sentry_sdk.new_scope() as scope:
                self._capture(scope, n)
        self._client.flush(timeout=self.flush_timeout_s)
        return SendResult.success()

    def _capture(self, scope: sentry_sdk.Scope, n: Notification) -> None:
        scope.set_client(self._client)
        scope.set_tag("rule", n.rule)
        scope.set_tag("severity", n.severity)
        scope.set_tag("state", n.state)
        if n.metric:
            scope.set_tag("metric", n.metric)
        # One Sentry issue per rule: its firings and resolutions collect there.
        scope.fingerprint = ["ionmon-alert", n.rule]
        scope.set_context("alert", {"value": n.value, "active_since": n.active_since,
                                    "at": n.at, "runbook": n.runbook,
                                    "runbook_url": n.runbook_url, "checks": list(n.checks)})
        level = _LEVELS.get(n.severity, "warning") if n.state == "firing" else "info"
        sentry_sdk.capture_message(f"[{n.state.upper()}] {n.rule}: {n.summary}", level=level)

    def close(self) -> None:
        self._client.close(timeout=self.flush_timeout_s)
