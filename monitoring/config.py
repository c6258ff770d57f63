"""The config sections the core owns (store, scrape) and how a bad value is described.

The root file is loaded and validated once, by the app shell (``monitoring.app.config``);
the sections here are plain typed values the core's libraries are handed.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from collectors.limits import ScrapeLimits
from monitoring.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]

class ConfigError(Exception):
    """A configuration that cannot be used; the message names file, key and expectation."""


class Strict(BaseModel):
    """A config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PrometheusStoreConfig(Strict):
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


class StoreConfig(Strict):
    backend: Literal["sqlite", "prometheus"] = "sqlite"
    path: str = "data/ionmon.db"
    retention: Duration = parse_duration("35d")
    # A sample further ahead of the store's clock is refused (and counted).
    future_tolerance: Duration = 300.0
    # A day is sealed into chunks this long after it ends, so late scrapes land first.
    seal_grace: Duration = 3600.0
    prometheus: PrometheusStoreConfig = Field(default_factory=PrometheusStoreConfig)

    @field_validator("retention", "future_tolerance", "seal_grace")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"expected a finite duration, got {v}")
        return v


_SIZE_UNITS = {"": 1, "B": 1, **{f"{p}{suffix}": 1024 ** (i + 1)
                                 for i, p in enumerate("KMGTPE") for suffix in ("B", "iB")}}


def parse_size(value: object) -> int:
    """A byte size as Prometheus reads ``body_size_limit``: an integer of bytes, or a
    number with B, KB, MB, GB, TB, PB or EB, each a power of 1024 (``10MB`` is 10 MiB;
    ``KiB``/``MiB``/... are accepted as the same)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like 10MB, got {value!r}")
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?i?B?)\s*", str(value))
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"expected a size like 10MB (units B, KB, MB, GB, TB, PB, EB), "
                         f"got {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


ByteSize = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]


class TargetConfig(Strict):
    """An extra live target beside the embedded engine's own."""

    name: str = Field(min_length=1)
    kind: Literal["exposition", "redis", "postgres", "sqlite", "host"]
    url: str = ""
    # Prometheus's scrape_config limits for an exposition target; 0 means no limit.
    body_size_limit: ByteSize = 0  # e.g. 10MB (base 2, as Prometheus reads it)
    sample_limit: int = Field(default=0, ge=0)
    label_limit: int = Field(default=0, ge=0)
    label_name_length_limit: int = Field(default=0, ge=0)
    label_value_length_limit: int = Field(default=0, ge=0)
    # As in Prometheus: false keeps the target's job/target labels and renames clashing
    # payload labels to exported_<name>; true keeps the payload's where they clash.
    honor_labels: bool = False

    def limits(self) -> ScrapeLimits:
        return ScrapeLimits(int(self.body_size_limit), self.sample_limit, self.label_limit,
                            self.label_name_length_limit, self.label_value_length_limit)

    @model_validator(mode="after")
    def _needs_url(self) -> TargetConfig:
        if self.kind != "exposition" and self.limits() != ScrapeLimits():
            raise ValueError(f"target {self.name!r}: scrape limits apply to exposition "
                             f"targets only, not {self.kind}")
        if self.kind in ("exposition", "redis", "postgres", "sqlite") and not self.url:
            raise ValueError(f"target {self.name!r} of kind {self.kind} needs a url")
        if self.kind == "exposition" and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"target {self.name!r}: expected an http(s) URL, got {self.url!r}")
        return self


class ScrapeConfig(Strict):
    interval: Duration = 60.0
    timeout: Duration = 5.0
    rate_window: Duration = 300.0  # rates and quantiles span this many seconds of scrapes
    targets: list[TargetConfig] = Field(default_factory=list)

    @property
    def window_scrapes(self) -> int:
        return max(1, round(self.rate_window / self.interval))

    @field_validator("interval")
    @classmethod
    def _interval_positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("interval must be positive")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout_shorter(cls, v: float, info: ValidationInfo) -> float:
        interval = info.data.get("interval")
        if v <= 0:
            raise ValueError("must be positive")
        if interval is not None and v >= interval:
            raise ValueError(f"must be shorter than scrape.interval ({interval:g}s), got "
                             f"{v:g}s: a scrape must end before the next one starts")
        return v

    @model_validator(mode="after")
    def _timeout_fits(self) -> ScrapeConfig:
        if self.interval <= 0:
            raise ValueError("interval must be positive")
        if self.rate_window < self.interval:
            raise ValueError(f"rate_window ({self.rate_window}s) must be at least one interval "
                             f"({self.interval}s)")
        return self


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not str(p).startswith("function-")) or "(top level)"


def describe_errors(errors: list[dict[str, Any]]) -> list[str]:
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
