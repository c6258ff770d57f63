"""config.yaml, loaded once into typed objects at one boundary.

A bad file fails with the file, the key and what was expected; nothing starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerts.settings import AlertsSettings
from alerts.slo import SLO, check_unique, default_slos
from engine.config import EngineConfig
from engine.faults import FAULT_KINDS, check_target, resolve_params
from monitoring.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class ConfigError(Exception):
    """A configuration that cannot be used; the message names file, key and expectation."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrometheusStoreConfig(_Strict):
    url: str = "http://127.0.0.1:9090"
    timeout: Duration = 10.0
    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    retries: int = Field(default=2, ge=0, le=10)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {v!r}")
        return v.rstrip("/")


class StoreConfig(_Strict):
    backend: Literal["sqlite", "prometheus"] = "sqlite"
    path: str = "data/ionmon.db"
    retention: Duration = parse_duration("35d")
    prometheus: PrometheusStoreConfig = Field(default_factory=PrometheusStoreConfig)


class TargetConfig(_Strict):
    """An extra live target beside the embedded engine's own."""

    name: str = Field(min_length=1)
    kind: Literal["exposition", "redis", "postgres", "sqlite", "host"]
    url: str = ""

    @model_validator(mode="after")
    def _needs_url(self) -> TargetConfig:
        if self.kind in ("exposition", "redis", "postgres", "sqlite") and not self.url:
            raise ValueError(f"target {self.name!r} of kind {self.kind} needs a url")
        if self.kind == "exposition" and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"target {self.name!r}: expected an http(s) URL, got {self.url!r}")
        return self


class ScrapeConfig(_Strict):
    interval: Duration = 60.0
    timeout: Duration = 5.0
    rate_window: Duration = 300.0  # rates and quantiles span this many seconds of scrapes
    targets: list[TargetConfig] = Field(default_factory=list)

    @property
    def window_scrapes(self) -> int:
        return max(1, round(self.rate_window / self.interval))

    @model_validator(mode="after")
    def _timeout_fits(self) -> ScrapeConfig:
        if self.interval <= 0:
            raise ValueError("interval must be positive")
        if self.rate_window < self.interval:
            raise ValueError(f"rate_window ({self.rate_window}s) must be at least one interval "
                             f"({self.interval}s)")
        if self.timeout > self.interval:
            raise ValueError(f"timeout ({self.timeout}s) must not exceed interval "
                             f"({self.interval}s)")
        return self


class FaultSpec(_Strict):
    """A fault injected during backfill, ``at`` after the backfill's start."""

    kind: Literal[FAULT_KINDS]  # type: ignore[valid-type]
    target: str = Field(min_length=1)
    at: Duration
    duration: Duration
    params: dict[str, float | str] = Field(default_factory=dict, validate_default=True)

    @field_validator("params")
    @classmethod
    def _known_params(cls, v: dict[str, float | str], info: ValidationInfo
                      ) -> dict[str, float | str]:
        # Completed with the severity and its factors, so the fault log records them.
        kind = info.data.get("kind")
        return resolve_params(kind, v) if kind is not None else v


class BackfillConfig(_Strict):
    days: int = Field(default=7, ge=1, le=56)
    warmup: Duration = 3 * 3600.0  # traffic served, not recorded, before the range starts
    faults: list[FaultSpec] = Field(default_factory=list)


def _crontab(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"expected a crontab line like '30 2 * * *', got {value!r}: {exc}"
                         ) from None
    return value


Crontab = Annotated[str, BeforeValidator(_crontab)]


class ScheduleConfig(_Strict):
    """When ``ionmon serve`` runs each job (UTC)."""

    state_path: str | None = None  # default: scheduler.db beside the store
    tuning_log: str | None = None  # default: tuning.jsonl beside the store
    coalesce: bool = True
    misfire_grace: Duration = 300.0
    evaluate_interval: Duration = 60.0
    dashboards_interval: Duration = 300.0
    retune_cron: Crontab = "30 2 * * *"
    retune_apply: bool = False
    report_cron: Crontab = "0 1 * * mon"
    retention_cron: Crontab = "15 3 * * *"


class ServeConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # When set, every request needs it (header "Authorization: Bearer <token>" or
    # "?token=<token>"): set one before binding anything but loopback.
    token: str | None = Field(default=None, min_length=16)


class Config(_Strict):
    engine: EngineConfig = Field(default_factory=EngineConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    scrape: ScrapeConfig = Field(default_factory=ScrapeConfig)
    backfill: BackfillConfig = Field(default_factory=BackfillConfig)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    slos: list[SLO] = Field(default_factory=default_slos)
    output_dir: str = "out"

    @field_validator("slos")
    @classmethod
    def _unique_slos(cls, v: list[SLO]) -> list[SLO]:
        return check_unique(v)

    @model_validator(mode="after")
    def _fault_targets_exist(self) -> Config:
        roles = {name: region.role for name, region in self.engine.regions.items()}
        for i, fault in enumerate(self.backfill.faults):
            try:
                check_target(fault.kind, fault.target, roles)
            except ValueError as exc:
                raise ValueError(f"backfill.faults.{i}.target: {exc}") from None
        return self


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not str(p).startswith("function-")) or "(top level)"


def _describe(errors: list[dict[str, Any]]) -> list[str]:
    lines = []
    for err in errors:
        where = _location(tuple(p for p in err["loc"] if not isinstance(p, str) or "[" not in p))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not expected here)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        got = err.get("input")
        quiet = err["type"] in ("extra_forbidden", "missing", "value_error")
        shown = "" if quiet or isinstance(got, dict | list) else f" (got {got!r})"
        # Model-level checks already name their key in the message.
        lines.append(f"{msg}{shown}" if where == "(top level)" and ": " in msg
                     else f"{where}: {msg}{shown}")
    return lines


def parse_config(data: Any, source: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level, "
                          f"got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        details = "\n  ".join(_describe(exc.errors()))
        raise ConfigError(f"{source}: invalid configuration\n  {details}") from None


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate ``path`` (default: config.yaml in the working directory)."""
    path = Path(path or "config.yaml")
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return parse_config(data, str(path))
