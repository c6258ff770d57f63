"""What happened on a chart: alert episodes and recorded faults as time spans, each
naming the metrics it concerns, and which panel shows a metric's evidence.

Pure functions: alert history rows and fault records in, markers out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from alerts.rules import RULE_SPECS, SPECS_BY_ID
from dashboards.definitions import DASHBOARDS
from dashboards.report.model import fault_metrics
from monitoring.catalog import CATALOG, REGIONS, drawn_as
from monitoring.groundtruth import FaultRecord

MarkerKind = Literal["alert", "fault"]
_ENDS_EPISODE = ("resolved", "inactive")
# Faults confined to one region also show on that region's latency ("{region}": its target).
REGIONAL_METRICS: Mapping[str, tuple[str, ...]] = {
    "network_delay": ("latency_p95_{region}",),
    "cpu_hog": ("latency_p95_{region}",),
}


@dataclass(frozen=True)
class Marker:
    kind: MarkerKind
    name: str  # the rule id, or the fault kind
    detail: str  # the fault's target, or the metric the rule fired on
    start: float
    end: float | None  # None: still going at the end of the range
    metrics: tuple[str, ...]  # catalog ids whose charts it is shaded on

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"marker {self.kind} {self.name!r}: end {self.end} before "
                             f"start {self.start}")

    @property
    def label(self) -> str:
        what = "alert" if self.kind == "alert" else "fault"
        return f"{what} {self.name}" + (f" ({self.detail})" if self.detail else "")

    def until(self, now: float) -> float:
        return now if self.end is None else self.end


def fault_concerns(fault: FaultRecord) -> tuple[str, ...]:
    """The metrics a fault moves: the ones the report expects it to, and those of every
    rule meant to catch it."""
    caught = (m for spec in RULE_SPECS if fault.kind in spec.catches for m in spec.metrics)
    region = fault.target.split("/")[0]
    regional = (m.format(region=region) for m in REGIONAL_METRICS.get(fault.kind, ()))
    ids = dict.fromkeys([*fault_metrics(fault), *caught, *regional])
    # A fault in one region leaves the other regions' own series alone.
    others = tuple(f"_{r}" for r in REGIONS if r != region) if region in REGIONS else ()
    return _charted(m for m in ids if not m.endswith(others))


def _charted(metrics: Iterable[str]) -> tuple[str, ...]:
    """The catalog charts that show ``metrics``: a region series shows on its total's."""
    return tuple(m for m in dict.fromkeys(drawn_as(m) for m in metrics) if m in CATALOG)


def fault_markers(faults: Iterable[FaultRecord]) -> tuple[Marker, ...]:
    return tuple(Marker("fault", f.kind, f.target, f.start, f.end, fault_concerns(f))
                 for f in faults)


def alert_episodes(history: Sequence[Mapping], start: float, end: float
                   ) -> tuple[Marker, ...]:
    """Firing-to-resolved spans per rule from the alert history (any order), those
    overlapping [start, end], oldest first. An episode not yet resolved has no end."""
    open_at: dict[str, Mapping] = {}
    out: list[Marker] = []

    def close(row: Mapping, until: float | None) -> None:
        rule = row["rule"]
        spec = SPECS_BY_ID.get(rule)
        metrics = (row["metric"],) if row.get("metric") else (spec.metrics if spec else ())
        out.append(Marker("alert", rule, row.get("metric") or "", float(row["at"]),
                          until, _charted(metrics)))

    for row in sorted(history, key=lambda r: r["at"]):
        rule = row["rule"]
        if row["new"] == "firing" and rule not in open_at:
            open_at[rule] = row
        elif row["new"] in _ENDS_EPISODE and rule in open_at:
            close(open_at.pop(rule), float(row["at"]))
    for row in open_at.values():
        close(row, None)
    return tuple(sorted((m for m in out if m.start <= end and m.until(end) >= start),
                        key=lambda m: (m.start, m.name)))


def panel_anchor(title: str) -> str:
    """A panel's fragment id, from its title (lower case, dashes)."""
    return "panel-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "x")


def evidence_panel(metric: str | None) -> tuple[str, str] | None:
    """(dashboard name, panel anchor) of the first chart that shows ``metric`` (a
    region series: its total's)."""
    metric = None if metric is None else drawn_as(metric)
    for dash in DASHBOARDS.values():
        for panel in dash.panels:
            if panel.kind == "timeseries" and metric in panel.metrics:
                return dash.name, panel_anchor(panel.title)
    return None
