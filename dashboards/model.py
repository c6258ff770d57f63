"""Dashboards as values: a Dashboard holds Rows, a Row holds Panels that name catalog ids.

Validation happens at construction so a typo in a metric id fails at import, not at
render time. Panels never carry PromQL: the catalog is the only place it is spelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from monitoring.catalog import CATALOG, Metric, Target

PanelKind = Literal["stat", "timeseries", "table", "alerts", "budget"]
PANEL_KINDS: tuple[str, ...] = get_args(PanelKind)
AlertState = Literal["firing", "pending", "resolved"]
ALERT_STATES: tuple[str, ...] = get_args(AlertState)
GRID_COLUMNS = 12  # panel widths are in twelfths of a row, as in most grid layouts


class DashboardError(ValueError):
    """A dashboard definition that cannot be rendered; the message names the dashboard."""


@dataclass(frozen=True)
class Panel:
    title: str
    kind: PanelKind
    metrics: tuple[str, ...] = ()
    width: int = 3
    description: str = ""
    # Only for kind="alerts": which alert states the panel lists.
    alert_states: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise DashboardError("a panel needs a title")
        if self.kind not in PANEL_KINDS:
            raise DashboardError(
                f"panel {self.title!r}: unknown kind {self.kind!r} "
                f"(known: {', '.join(PANEL_KINDS)})"
            )
        unknown = [m for m in self.metrics if m not in CATALOG]
        if unknown:
            raise DashboardError(
                f"panel {self.title!r}: unknown metric id(s) {', '.join(unknown)}; "
                f"known: {', '.join(CATALOG)}"
            )
        if len(set(self.metrics)) != len(self.metrics):
            raise DashboardError(f"panel {self.title!r}: a metric is listed twice")
        if self.kind == "alerts":
            if self.metrics:
                raise DashboardError(f"panel {self.title!r}: an alerts panel takes no metrics")
            bad = [s for s in self.alert_states if s not in ALERT_STATES]
            if not self.alert_states or bad:
                raise DashboardError(
                    f"panel {self.title!r}: alert_states must be a non-empty subset of "
                    f"{', '.join(ALERT_STATES)}"
                )
        elif self.kind == "budget":
            # SLOs come from configuration, so a budget panel names no metrics itself.
            if self.metrics or self.alert_states:
                raise DashboardError(f"panel {self.title!r}: a budget panel takes no metrics "
                                     "or alert_states (it shows every configured SLO)")
        else:
            if not self.metrics:
                raise DashboardError(f"panel {self.title!r}: a {self.kind} panel needs metrics")
            if self.alert_states:
                raise DashboardError(f"panel {self.title!r}: alert_states is for alerts panels")
        if self.kind == "stat" and len(self.metrics) != 1:
            raise DashboardError(f"panel {self.title!r}: a stat panel shows exactly one metric")
        if not 1 <= self.width <= GRID_COLUMNS:
            raise DashboardError(
                f"panel {self.title!r}: width {self.width} is outside 1..{GRID_COLUMNS}"
            )

    @property
    def catalog_metrics(self) -> tuple[Metric, ...]:
        return tuple(CATALOG[m] for m in self.metrics)

    def thresholds(self, overrides: Mapping[str, Target] | None = None
                   ) -> dict[str, Target | None]:
        """Each metric's threshold: a tuned override when given, else the catalog target."""
        overrides = overrides or {}
        return {m: overrides.get(m, CATALOG[m].target) for m in self.metrics}


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]

    def __post_init__(self) -> None:
        if not self.panels:
            raise DashboardError(f"row {self.title!r} has no panels")
        titles = [p.title for p in self.panels]
        if len(set(titles)) != len(titles):
            raise DashboardError(f"row {self.title!r}: two panels share a title")


@dataclass(frozen=True)
class Dashboard:
    name: str  # short, stable identifier (file names, URLs, Grafana uid)
    title: str
    description: str
    rows: tuple[Row, ...]

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise DashboardError(f"dashboard name {self.name!r} must be alphanumeric")
        if not self.rows:
            raise DashboardError(f"dashboard {self.name!r} has no rows")

    @property
    def panels(self) -> tuple[Panel, ...]:
        return tuple(p for row in self.rows for p in row.panels)

    @property
    def metric_ids(self) -> tuple[str, ...]:
        """Every metric the dashboard shows, once each, in first-seen order."""
        return tuple(dict.fromkeys(m for p in self.panels for m in p.metrics))
