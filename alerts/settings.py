"""The ``alerts:`` section of config.yaml, and ``Alerting``: everything alerting is handed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from alerts.runbooks import DEFAULT_BASE_URL
from alerts.slo import SLO
from monitoring.config import Duration
from monitoring.config import Strict as _Strict


class WebhookSettings(_Strict):
    url: str = Field(pattern=r"^https?://")
    timeout: Duration = 5.0
    max_queue: int = Field(default=1000, ge=1)
    deadline: Duration = 300.0  # give up on one delivery attempt cycle after this


class SentrySettings(_Strict):
    dsn: str = Field(pattern=r"^https?://")
    environment: str = "production"


class AlertmanagerSettings(_Strict):
    url: str = Field(pattern=r"^https?://")
    timeout: Duration = 5.0


class ChannelsSettings(_Strict):
    log: bool = True
    webhook: WebhookSettings | None = None
    sentry: SentrySettings | None = None
    alertmanager: AlertmanagerSettings | None = None


class AlertsSettings(_Strict):
    rules_path: str = "data/rules.yaml"
    state_path: str = "data/alerts.db"
    baseline: Duration = 7 * 86400.0
    k_grid: list[float] = Field(default=[3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0], min_length=1)
    max_false_alarms_per_day: float = Field(default=1 / 7, ge=0)
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)
    # Where docs/runbooks.md is served (an absolute URL); notifications link to its
    # sections. The root config defaults it to the page on the serve address.
    runbook_base_url: str = Field(default=DEFAULT_BASE_URL, pattern=r"^https?://")


@dataclass(frozen=True)
class Alerting:
    """What the evaluator, the dashboards and the report are handed by the shell: the
    ``alerts:`` section, the declared SLOs (none when ``slos: []``) and the evaluation
    interval."""

    settings: AlertsSettings = field(default_factory=AlertsSettings)
    slos: tuple[SLO, ...] = ()
    evaluate_interval_s: float = 60.0

    @property
    def silence_path(self) -> Path:
        """Silences live beside the alert state."""
        return Path(self.settings.state_path).with_name("silences.db")
