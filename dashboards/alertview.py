"""What a dashboard needs to know about an alert, independent of how alerts are evaluated."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.model import ALERT_STATES

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class AlertView:
    name: str
    severity: str
    state: str  # firing | pending | resolved
    since: float  # epoch seconds the alert entered ``state``
    summary: str = ""
    metric: str | None = None  # catalog id the rule watches, when there is one
    silenced: bool = False  # a silence matches it: recorded, not notified
    runbook_url: str = ""  # what to check, when the rule has a runbook

    def __post_init__(self) -> None:
        if self.state not in ALERT_STATES:
            raise ValueError(f"alert {self.name!r}: unknown state {self.state!r} "
                             f"(known: {', '.join(ALERT_STATES)})")
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert {self.name!r}: unknown severity {self.severity!r} "
                             f"(known: {', '.join(SEVERITIES)})")
