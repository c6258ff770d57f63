"""Raw scrapes as OpenMetrics text with timestamps, the input of promtool's backfill.

``promtool tsdb create-blocks-from openmetrics`` turns this file into TSDB blocks, so
a Prometheus server can hold the same raw samples the embedded store derived its
metrics from. The writer follows the format's rules that promtool relies on:

- one metric family at a time (families never interleave), its ``# TYPE`` line first;
- counters as ``<family>_total``; a histogram's ``_bucket``/``_count``/``_sum`` lines
  of one label set together at each timestamp (one MetricPoint), buckets by ``le``;
- each series' points contiguous and in time order; ``# EOF`` last.

A ``Sample`` carries no type, so the type follows prometheus-client's naming: a
``_bucket`` series with an ``le`` label makes its name a histogram (with its
``_count`` and ``_sum``), a ``_total`` name a counter, anything else a gauge.
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TextIO

from collectors.base import Sample, ScrapeResult

LabelKey = tuple[tuple[str, str], ...]

_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


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

    def __len__(self) -> int:
        return sum(len(p.ms) for p in self._series.values())

    def write(self, out: TextIO) -> ExportSummary:
        families = _families(self._series)
        samples = 0
        first, last = math.inf, -math.inf
        for family, (kind, metrics) in sorted(families.items()):
            out.write(f"# TYPE {family} {kind}\n")
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
