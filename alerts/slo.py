"""Service level objectives as configuration: an SLI over catalog series, an objective, a window.

Fields follow OpenSLO's shape (name, description, indicator, objective, time window).
Two kinds of indicator, both over the store's one-minute recorded series (catalog
metrics and the catalog's SLI series):

- ``ratio``: the series is a percentage of good events over the rate window
  (availability, cache hit rate, a region's requests under 50 ms). A minute's bad
  fraction is ``1 - value/100``; minutes are weighted by an events-per-second series
  (``weight``), so a busy minute counts more than a quiet one. This approximates
  good/total over raw counters: each minute's ratio covers the 5-minute rate window
  ending at it, so a window's ratio is a weighted mean of overlapping 5-minute ratios,
  exact up to the window's first and last few minutes.
- ``threshold``: a minute is bad when the metric breaches ``op value`` (e.g. DB query
  p95 above 5 ms). The objective is then a share of good minutes (a time-slice SLI).

Error budget and burn rates are derived from these, never stored by hand (``alerts.burn``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from monitoring import catalog
from monitoring.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
DAY_S = 86400.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Strict):
    kind: Literal["ratio", "threshold"]
    metric: str
    weight: str | None = None  # ratio: events per second that weight each minute
    op: Literal["<", "<=", ">", ">="] | None = None  # threshold: good when ``value op limit``
    value: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Indicator:
        for key in ("metric", "weight"):
            mid = getattr(self, key)
            if mid is not None and mid not in catalog.RECORDED:
                raise ValueError(f"{key}: unknown metric {mid!r} (known: "
                                 f"{', '.join(catalog.RECORDED)})")
        metric = catalog.RECORDED[self.metric]
        if self.kind == "ratio":
            if metric.unit != "%" or metric.good != "up":
                raise ValueError(f"metric: a ratio indicator needs a percentage of good "
                                 f"events, and {self.metric} is not one")
            if self.op is not None or self.value is not None:
                raise ValueError("op/value: only for threshold indicators")
        else:
            if self.op is None or self.value is None:
                raise ValueError("a threshold indicator needs op and value")
            if self.weight is not None:
                raise ValueError("weight: only for ratio indicators")
        return self

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,) if self.weight is None else (self.metric, self.weight)

    def describe(self) -> str:
        title = catalog.RECORDED[self.metric].title
        if self.kind == "ratio":
            return f"{title} (good events / all events)"
        unit = catalog.RECORDED[self.metric].unit
        return f"minutes with {title} {self.op} {self.value:g} {unit}"


class SLO(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    indicator: Indicator
    objective: float = Field(gt=0, lt=100)  # percent of good events (or good minutes)
    window: Duration = 28 * DAY_S

    @model_validator(mode="after")
    def _window(self) -> SLO:
        if self.window < DAY_S:
            raise ValueError(f"window: at least 1d, got {self.window:g}s")
        return self

    @property
    def budget(self) -> float:
        """The allowed bad fraction: 0.0005 for 99.95%."""
        return allowed_fraction(self.objective)

    @property
    def title(self) -> str:
        return self.description or self.name


def allowed_fraction(objective: float) -> float:
    """The bad fraction an objective in percent allows: 0.0005 for 99.95 (rounded, so
    not 0.000500000000000034); one formula for budgets, burn rates and Grafana."""
    return round(1 - objective / 100, 12)


def _latency(region: str) -> SLO:
    # "p95 under 50 ms" as events: 95% of the region's requests answered within 50 ms,
    # counted from the latency histogram's 50 ms bucket and weighted by its requests.
    return SLO(name=f"latency_{region}",
               description=f"{region.upper()} requests under {catalog.FAST_S * 1000:g} ms",
               indicator=Indicator(kind="ratio", metric=f"fast_requests_{region}",
                                   weight=f"requests_{region}"),
               objective=95.0)


def default_slos() -> list[SLO]:
    """The service's promises: 99.95% available, 95% of each region's requests under
    50 ms, and 60% of lookups answered by a cache."""
    return [
        SLO(name="availability", description="Edge availability",
            indicator=Indicator(kind="ratio", metric="availability", weight="request_rate"),
            objective=99.95),
        *(_latency(r) for r in catalog.REGIONS),
        SLO(name="cache", description="Lookups answered by a cache",
            indicator=Indicator(kind="ratio", metric="cache_hit_rate", weight="request_rate"),
            objective=60.0),
    ]


def check_unique(slos: list[SLO]) -> list[SLO]:
    seen: set[str] = set()
    for i, slo in enumerate(slos):
        if slo.name in seen:
            raise ValueError(f"duplicate SLO name {slo.name!r} (entry {i})")
        seen.add(slo.name)
    return slos
