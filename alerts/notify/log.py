"""The log channel: one line per notification, never fails."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alerts.notify.base import Notification, SendResult

_LEVELS = {"critical": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


class LogNotifier:
    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("ionmon.alerts")

    def send(self, notes: Sequence[Notification]) -> SendResult:
        for n in notes:
            level = logging.INFO
            if n.state == "firing":
                level = _LEVELS.get(n.severity, logging.WARNING)
            value = "" if n.value is None else f" {n.metric}={n.value:.4g}"
            self.logger.log(level, "alert %s %s [%s]%s: %s", n.rule, n.state.upper(),
                            n.severity, value, n.summary)
        return SendResult.success()
