"""The log channel: one line per notification, never fails."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alerts.notify.base import Notification, SendResult

_LEVELS = {"critical": logging.ERROR, "warning": logging.WARNING, "info": logging.INFO}


def _one_line(text: str | None) -> str:
    """Control characters escaped: a newline in a summary must not forge a log line."""
    text = text or ""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class LogNotifier:
    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("ionmon.alerts")

    def send(self, notes: Sequence[Notification]) -> SendResult:
        for n in notes:
            level = logging.INFO
            if n.state == "firing":
                level = _LEVELS.get(n.severity, logging.WARNING)
            value = "" if n.value is None else f" {_one_line(n.metric)}={n.value:.4g}"
            book = f" (runbook {_one_line(n.runbook_url)})" if n.runbook_url else ""
            self.logger.log(level, "alert %s %s [%s]%s: %s%s", _one_line(n.rule),
                            n.state.upper(), _one_line(n.severity), value, _one_line(n.summary),
                            book)
        return SendResult.success()
