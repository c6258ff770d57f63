"""config.yaml, loaded once into typed objects at one boundary.

A bad file fails with the file, the key and what was expected; nothing starts. Each
library is then handed its own section: the engine its ``engine:``, the store its
``store:``, alerting its ``alerts:`` and ``slos:``, the scheduler its ``schedule:``.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerts.runbooks import served_at
from alerts.settings import Alerting, AlertsSettings
from alerts.slo import SLO, check_unique, default_slos
from engine.cluster import EDGE
from engine.config import EngineConfig
from engine.faults import FAULT_KINDS, check_target, resolve_params
from monitoring.config import (
    ConfigError,
    Duration,
    ScrapeConfig,
    StoreConfig,
    Strict,
    describe_errors,
)
from monitoring.durations import format_duration

__all__ = ["Config", "ConfigError", "load_config", "parse_config"]


class FaultSpec(Strict):
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


class BackfillConfig(Strict):
    days: int = Field(default=7, ge=1, le=56)
    warmup: Duration = 3 * 3600.0  # traffic served, not recorded, before the range starts
    faults: list[FaultSpec] = Field(default_factory=list)


def _crontab(value: str) -> str:
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"expected a crontab line like '30 2 * * *', got {value!r}: {exc}"
                         ) from None
    return value


Crontab = Annotated[str, BeforeValidator(_crontab)]


class ScheduleConfig(Strict):
    """When ``ionmon serve`` runs each job (UTC), and where the scheduler keeps its state."""

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


class ServeConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # When set, every request needs it (header "Authorization: Bearer <token>" or the
    # session cookie the /login form sets; never in the URL): set one before binding
    # anything but loopback.
    token: str | None = Field(default=None, min_length=16)
    connection_limit: int = Field(default=256, ge=1, le=10_000)
    idle_timeout: Duration = 30.0  # a connection with no request in flight is closed
    header_timeout: Duration = 10.0  # a request's headers must arrive within this
    threads: int = Field(default=4, ge=1, le=64)  # pages rendered at once

    @model_validator(mode="after")
    def _timeouts(self) -> ServeConfig:
        for key in ("idle_timeout", "header_timeout"):
            if getattr(self, key) < 1:
                raise ValueError(f"serve.{key}: must be at least 1s")
        return self


class Config(Strict):
    engine: EngineConfig = Field(default_factory=EngineConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    scrape: ScrapeConfig = Field(default_factory=ScrapeConfig)
    backfill: BackfillConfig = Field(default_factory=BackfillConfig)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    slos: list[SLO] = Field(default_factory=default_slos)
    output_dir: str = "out"

    @model_validator(mode="before")
    @classmethod
    def _runbooks_on_the_serve_address(cls, data: Any) -> Any:
        # Unset, runbook links point at the page this config's ``serve`` serves.
        if not isinstance(data, dict) or not isinstance(data.get("alerts", {}), dict) \
                or not isinstance(data.get("serve", {}), dict):
            return data  # validation names what is wrong
        alerts = dict(data.get("alerts") or {})
        if alerts.get("runbook_base_url") is None:
            try:
                serve = ServeConfig.model_validate(data.get("serve") or {})
            except ValidationError:
                return data  # the serve section's own validation says what is wrong
            alerts["runbook_base_url"] = served_at(serve.host, serve.port)
            data = {**data, "alerts": alerts}
        return data

    @field_validator("slos")
    @classmethod
    def _unique_slos(cls, v: list[SLO]) -> list[SLO]:
        return check_unique(v)

    @property
    def alerting(self) -> Alerting:
        """What alerting is handed: its section, the SLOs as declared, how often it runs."""
        return Alerting(self.alerts, tuple(self.slos), self.schedule.evaluate_interval)

    @property
    def weekend_clocks(self) -> tuple[int, ...]:
        """UTC and the regions' UTC offsets: the clocks a tuned weekend may be read on."""
        return tuple(sorted({0, *(r.utc_offset_h for r in self.engine.regions.values())}))

    # The scheduler's files live beside the store unless placed, so one config keeps one
    # place (computed on use: a copy of the config with another store moves them too).
    @property
    def scheduler_state_path(self) -> str:
        return self.schedule.state_path or str(Path(self.store.path).parent / "scheduler.db")

    @property
    def tuning_log_path(self) -> str:
        return self.schedule.tuning_log or str(Path(self.store.path).parent / "tuning.jsonl")

    @model_validator(mode="after")
    def _retention_keeps_what_is_read(self) -> Config:
        windows = [("alerts.baseline", self.alerts.baseline),
                   *((f"slos.{i}.window", slo.window) for i, slo in enumerate(self.slos))]
        key, longest = max(windows, key=lambda w: w[1])
        if self.store.retention < longest:
            raise ValueError(
                f"store.retention: {format_duration(self.store.retention)} would delete "
                f"history still read by {key} ({format_duration(longest)}); set it to at "
                f"least {format_duration(longest)}")
        return self

    @model_validator(mode="after")
    def _extra_targets_apart(self) -> Config:
        taken = {EDGE, *self.engine.regions}
        seen: set[str] = set()
        for i, target in enumerate(self.scrape.targets):
            if target.name in taken:
                raise ValueError(f"scrape.targets.{i}.name: {target.name!r} is an engine "
                                 f"target's name ({', '.join(sorted(taken))}); pick another")
            if target.name in seen:
                raise ValueError(f"scrape.targets.{i}.name: {target.name!r} is used twice")
            seen.add(target.name)
        return self

    @model_validator(mode="after")
    def _fault_targets_exist(self) -> Config:
        roles = {name: region.role for name, region in self.engine.regions.items()}
        for i, fault in enumerate(self.backfill.faults):
            try:
                check_target(fault.kind, fault.target, roles)
            except ValueError as exc:
                raise ValueError(f"backfill.faults.{i}.target: {exc}") from None
        return self


def _refuse_nul(data: dict[str, Any], source: str) -> None:
    """No key or value may hold a NUL byte (no path, URL or name can)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            items = [(f"{where}.{k}" if where else str(k), k, v) for k, v in node.items()]
        elif isinstance(node, list):
            items = [(f"{where}.{i}", None, v) for i, v in enumerate(node)]
        else:
            items = []
        for key, name, value in items:
            if (isinstance(name, str) and "\0" in name) or \
                    (isinstance(value, str) and "\0" in value):
                raise ConfigError(f"{source}: {key!r}: a NUL byte is not allowed in a "
                                  "configuration value (paths, URLs and names cannot hold "
                                  "one)")
            stack.append((key, value))


def parse_config(data: Any, source: str = "<config>") -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level, "
                          f"got {type(data).__name__}")
    _refuse_nul(data, source)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        details = "\n  ".join(describe_errors(exc.errors()))
        raise ConfigError(f"{source}: invalid configuration\n  {details}") from None


MAX_CONFIG_BYTES = 1 << 20  # a config is a few KB: anything past this is not one
MAX_CONFIG_DEPTH = 32  # maps and lists within each other; the schema needs 6


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refused before parsing when it is not a regular file (a device,
    a FIFO, a directory) or larger than MAX_CONFIG_BYTES."""
    text = str(path)
    if "\0" in text:
        raise ConfigError(f"{text!r}: a path cannot contain a NUL byte")
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: not a regular file (a device, FIFO or directory cannot "
                          "be a configuration)")
    too_big = (f"{path}: {{}} bytes is over the {MAX_CONFIG_BYTES} byte limit for a "
               "configuration file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(too_big.format(info.st_size))
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # the size may change or lie (/proc)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(too_big.format(f"over {MAX_CONFIG_BYTES}"))
    return data


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than MAX_CONFIG_DEPTH from the parser's events, before any
    (recursive) composition, naming the line and the key where it goes too deep."""
    keys: list[str] = []  # the key path to the current node
    frames: list[list] = []  # [is_mapping, expecting_key]
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                if frames and frames[-1][0]:
                    frames[-1][1] = True
                frames.append([isinstance(event, yaml.MappingStartEvent), True])
                if len(frames) > MAX_CONFIG_DEPTH:
                    where = ".".join(keys[:MAX_CONFIG_DEPTH]) or "(top level)"
                    raise ConfigError(
                        f"{source}: {where}: nested more than {MAX_CONFIG_DEPTH} levels deep "
                        f"at line {event.start_mark.line + 1}")
            elif isinstance(event, yaml.CollectionEndEvent):
                frames.pop()
                if frames and frames[-1][0] and keys:
                    keys.pop()
            elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent) and frames \
                    and frames[-1][0]:
                if frames[-1][1]:  # a key
                    keys.append(str(getattr(event, "value", "*"))[:40])
                    frames[-1][1] = False
                else:  # a scalar value ends its key
                    keys.pop()
                    frames[-1][1] = True
    except yaml.YAMLError:
        return  # reported with its position by the loader below


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate ``path`` (default: config.yaml in the working directory)."""
    path = Path(path or "config.yaml")
    raw = _read_bounded(path)
    try:
        text = raw.decode("utf-8")
        _check_depth(text, str(path))
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return parse_config(data, str(path))
