"""Raw scrapes as OpenMetrics text with timestamps, the input of promtool's backfill.

``promtool tsdb create-blocks-from openmetrics`` turns this file into TSDB blocks, so
a Prometheus server can hold the same raw samples the embedded store derived its
metrics from. The writer follows the format's rules that promtool relies on:

- one metric family at a time (families never interleave), its ``# HELP``, ``# TYPE``
  and ``# UNIT`` lines first: the help names the catalog metrics that read the family
  (their titles), the unit is the family name's base-unit suffix (``_seconds``,
  ``_bytes``), as the format requires of a unit;
- counters as ``<family>_total``; a histogram's ``_bucket``/``_count``/``_sum`` lines
  of one label set together at each timestamp (one MetricPoint), buckets by ``le``;
- each series' points contiguous and in time order; ``# EOF`` last.

A ``Sample`` carries no type, so the type follows prometheus-client's naming: a
``_bucket`` series with an ``le`` label makes its name a histogram (with its
``_count`` and ``_sum``), a ``_total`` name a counter, anything else a gauge.

Beside the scrapes, the faults a backfill injected become one gauge series per fault
kind and target, ``ionmon_fault`` (the catalog's ``FAULT_SERIES``): 1 at every scrape
step while the fault lasts, 0 at its end, so Prometheus (and Grafana's annotations) can
read the fault log. A file name ending in ``.gz`` is written gzip-compressed.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TextIO

from collectors.base import Sample, ScrapeResult
from monitoring.catalog import FAULT_SERIES, RECORDED
from monitoring.expr import HistogramQuantile, Selector
from monitoring.groundtruth import FaultRecord

LabelKey = tuple[tuple[str, str], ...]

_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
# OpenMetrics' base units a family name may end in (a ``# UNIT`` must be its suffix).
BASE_UNITS = ("seconds", "bytes", "ratio", "meters", "grams", "joules", "volts", "amperes",
              "celsius", "kelvin")
FAULT_HELP = "Injected fault (kind, target): 1 while it lasts, 0 at its end"
UNREAD_HELP = "Scraped from the ION service; no catalog metric reads it"


@dataclass(frozen=True)
class ExportSummary:
    families: int
    series: int
    samples: int
    start: float | None
    end: float | None


class _Points:
    """One series' points: timestamps in milliseconds and values, 16 bytes a sample."""

    __slots__ = ("ms", "values")

    def __init__(self) -> None:
        self.ms = array("q")
        self.values = array("d")


class OpenMetricsRecorder:
    """Collects raw samples cycle by cycle, then writes them as one OpenMetrics file.

    Every sample gets a ``target`` label naming the scrape target it came from (as the
    generated prometheus.yml labels live scrapes: the catalog selects ``up`` by it),
    plus ``extra_labels``. Points are held in memory: about 16 bytes a sample.
    """

    def __init__(self, extra_labels: Mapping[str, str] | None = None) -> None:
        self.extra_labels = dict(extra_labels or {})
        self._series: dict[tuple[str, LabelKey], _Points] = {}

    def add_results(self, results: Iterable[ScrapeResult]) -> None:
        for result in results:
            self.add_samples(result.samples, target=result.target)

    def add_samples(self, samples: Iterable[Sample], target: str | None = None) -> None:
        extra = dict(self.extra_labels)
        if target is not None:
            extra["target"] = target
        series = self._series
        for s in samples:
            labels = {**s.labels, **extra} if extra else s.labels
            key = (s.name, tuple(sorted(labels.items())))
            points = series.get(key)
            if points is None:
                points = series[key] = _Points()
            ms = round(s.ts * 1000)
            if points.ms and ms <= points.ms[-1]:
                if ms == points.ms[-1]:  # a repeated scrape instant: the newest value wins
                    points.values[-1] = float(s.value)
                    continue
                raise ValueError(f"sample of {s.name}{dict(labels)} at {s.ts} is older than "
                                 f"the series' last point at {points.ms[-1] / 1000}")
            points.ms.append(ms)
            points.values.append(float(s.value))

    def add_faults(self, faults: Iterable[FaultRecord], step_s: float) -> None:
        """The fault log as ``FAULT_SERIES``: 1 on the ``step_s`` grid while a fault lasts,
        0 at its end (episodes of one kind and target share a series)."""
        if step_s <= 0:
            raise ValueError(f"step_s: must be positive, got {step_s}")
        points: dict[LabelKey, dict[int, float]] = defaultdict(dict)
        for f in faults:
            key = tuple(sorted({**self.extra_labels, "kind": f.kind, "target": f.target}.items()))
            series = points[key]
            ts = math.ceil(f.start / step_s) * step_s
            while ts < f.end:
                series[round(ts * 1000)] = 1.0
                ts += step_s
            series.setdefault(round(f.end * 1000), 0.0)  # a later episode's 1 wins
        for key, by_ms in points.items():
            if (FAULT_SERIES, key) in self._series:
                raise ValueError(f"faults added twice for {dict(key)}")
            out = self._series[(FAULT_SERIES, key)] = _Points()
            for ms in sorted(by_ms):
                out.ms.append(ms)
                out.values.append(by_ms[ms])

    def __len__(self) -> int:
        return sum(len(p.ms) for p in self._series.values())

    def write(self, out: TextIO) -> ExportSummary:
        families = _families(self._series)
        samples = 0
        first, last = math.inf, -math.inf
        for family, (kind, metrics) in sorted(families.items()):
            out.write(f"# HELP {family} {_escape_help(family_help(family))}\n")
            out.write(f"# TYPE {family} {kind}\n")
            unit = family_unit(family)
            if unit:
                out.write(f"# UNIT {family} {unit}\n")
            for base in sorted(metrics):
                components = sorted(metrics[base], key=_component_order)
                samples += _write_metric(out, components)
                for _, _, points in components:
                    if points.ms:
                        first, last = min(first, points.ms[0]), max(last, points.ms[-1])
        out.write("# EOF\n")
        return ExportSummary(
            families=len(families), series=len(self._series), samples=samples,
            start=first / 1000 if samples else None, end=last / 1000 if samples else None)


def write_file(recorder: OpenMetricsRecorder, path: Path) -> ExportSummary:
    """Write ``recorder`` to ``path`` (gzip-compressed when it ends in ``.gz``) through a
    ``.partial`` file, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    if path.name.endswith(".gz"):
        with partial.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
                io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as fh:
            summary = recorder.write(fh)
    else:
        with partial.open("w", encoding="utf-8", newline="\n") as fh:
            summary = recorder.write(fh)
    partial.replace(path)
    return summary


def sample_names(expr: object) -> set[str]:
    """The raw sample names an expression reads (a quantile reads its ``_bucket``s)."""
    if isinstance(expr, HistogramQuantile):
        return {expr.selector.name + "_bucket"}
    if isinstance(expr, Selector):
        return {expr.name}
    out: set[str] = set()
    if dataclasses.is_dataclass(expr):
        for f in dataclasses.fields(expr):
            out |= sample_names(getattr(expr, f.name))
    return out


def _family_name(name: str) -> str:
    for suffix in ("_total", *_HISTOGRAM_SUFFIXES):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@cache
def _readers() -> dict[str, tuple[str, ...]]:
    """family -> titles and units of the catalog metrics (and SLI series) reading it."""
    out: dict[str, list[str]] = defaultdict(list)
    for metric in RECORDED.values():
        for name in sorted(sample_names(metric.expr)):
            out[_family_name(name)].append(f"{metric.title} ({metric.unit})")
    return {family: tuple(dict.fromkeys(titles)) for family, titles in out.items()}


def family_help(family: str) -> str:
    if family == FAULT_SERIES:
        return FAULT_HELP
    titles = _readers().get(family)
    return f"Read by the catalog's {', '.join(titles)}" if titles else UNREAD_HELP


def family_unit(family: str) -> str | None:
    """The base unit the family name ends in, if any: OpenMetrics requires a unit to be
    the name's suffix."""
    return next((u for u in BASE_UNITS if family.endswith(f"_{u}")), None)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


Component = tuple[str, LabelKey, _Points]  # sample name, its labels, its points


def _families(series: Mapping[tuple[str, LabelKey], _Points]
              ) -> dict[str, tuple[str, dict[LabelKey, list[Component]]]]:
    """family -> (type, label set without ``le`` -> the series making up that metric)."""
    histograms = {name[: -len("_bucket")] for name, key in series
                  if name.endswith("_bucket") and any(k == "le" for k, _ in key)}
    out: dict[str, tuple[str, dict[LabelKey, list[Component]]]] = {}
    for (name, key), points in series.items():
        family, kind = _family_of(name, histograms)
        entry = out.setdefault(family, (kind, defaultdict(list)))
        if entry[0] != kind:
            raise ValueError(f"metric family {family!r} would be both a {entry[0]} and a "
                             f"{kind} (from series {name!r})")
        base = tuple((k, v) for k, v in key if k != "le") if kind == "histogram" else key
        entry[1][base].append((name, key, points))
    return out


def _family_of(name: str, histograms: set[str]) -> tuple[str, str]:
    for suffix in _HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in histograms:
            return name[: -len(suffix)], "histogram"
    if name.endswith("_total"):
        return name[: -len("_total")], "counter"
    return name, "gauge"


def _component_order(c: Component) -> tuple[int, float]:
    name, key, _ = c
    if name.endswith("_bucket"):
        le = dict(key).get("le", "+Inf")
        return 0, float(le)
    return (1, 0.0) if name.endswith("_count") else (2, 0.0)


def _write_metric(out: TextIO, components: list[Component]) -> int:
    """One metric's points, one timestamp (all its components) after another."""
    prefixes = [f"{name}{_labels(key)} " for name, key, _ in components]
    if len(components) == 1:
        points = components[0][2]
        prefix = prefixes[0]
        out.writelines(f"{prefix}{_value(v)} {_ts(ms)}\n"
                       for ms, v in zip(points.ms, points.values, strict=True))
        return len(points.ms)
    by_ms: dict[int, list[str]] = defaultdict(list)
    for prefix, (_, _, points) in zip(prefixes, components, strict=True):
        for ms, v in zip(points.ms, points.values, strict=True):
            by_ms[ms].append(f"{prefix}{_value(v)} {_ts(ms)}\n")
    written = 0
    for ms in sorted(by_ms):
        out.writelines(by_ms[ms])
        written += len(by_ms[ms])
    return written


def _labels(key: LabelKey) -> str:
    if not key:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in key) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _ts(ms: int) -> str:
    # Whole seconds stay integers, so promtool's seconds-to-milliseconds is exact.
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms // 1000}.{ms % 1000:03d}"
