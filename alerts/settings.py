"""The ``alerts:`` section of config.yaml, with defaults until the section exists."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from monitoring.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    # Where docs/runbooks.md is served; notifications link to its sections.
    runbook_base_url: str = "docs/runbooks.md"


def alerts_settings(config: Any) -> AlertsSettings:
    """The typed ``alerts:`` section, or the defaults when config has none."""
    section = getattr(config, "alerts", None)
    if section is None:
        return AlertsSettings()
    if isinstance(section, AlertsSettings):
        return section
    data = section.model_dump() if isinstance(section, BaseModel) else section
    return AlertsSettings.model_validate(data)
