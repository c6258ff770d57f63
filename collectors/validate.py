"""What Prometheus checks in a scraped family before storing it, for every format.

The parsers check the grammar; these checks are about meaning, written once for the
text format 0.0.4 and OpenMetrics alike: metric and label name syntax, counters and
histogram buckets that go negative or down, a histogram without ``+Inf``, a
``_count`` that disagrees with it, NaN where a count is required.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from prometheus_client.metrics_core import Metric

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_HISTOGRAMS = ("histogram", "gaugehistogram")


@dataclass(frozen=True)
class Problem:
    """Why a family is refused; ``sample`` indexes ``family.samples`` when one is at fault."""

    reason: str
    sample: int | None = None


def check_family(family: Metric) -> Problem | None:
    """The first problem of ``family``, or None when Prometheus would store it."""
    if not METRIC_NAME.fullmatch(family.name):
        return Problem(f"invalid metric name {family.name!r}")
    for i, s in enumerate(family.samples):
        if not METRIC_NAME.fullmatch(s.name):
            return Problem(f"invalid metric name {s.name!r}", i)
        for label in s.labels:
            if not LABEL_NAME.fullmatch(label):
                return Problem(f"invalid label name {label!r} in {s.name}", i)
        if not isinstance(s.value, int | float):
            return Problem(f"{s.name} has no float value", i)
        if s.name.endswith("_bucket") and "le" in s.labels and not _is_number(s.labels["le"]):
            # Any ``_bucket`` series is read as a histogram bucket downstream, typed or
            # not, and a bound that is not a number cannot be ordered.
            return Problem(f"bucket {s.name} with le={s.labels['le']!r}, not a number", i)
    if family.type == "counter":
        return _check_counter(family)
    if family.type in _HISTOGRAMS:
        return _check_histogram(family)
    if family.type == "summary":
        return _check_counts(family, (f"{family.name}_count",))
    return None


def _check_counter(family: Metric) -> Problem | None:
    for i, s in enumerate(family.samples):
        if s.name in (family.name, f"{family.name}_total") and not _count_like(s.value):
            return Problem(f"counter {s.name} is {s.value!r}: a counter is never negative "
                           f"nor NaN", i)
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _count_like(value: float) -> bool:
    return not math.isnan(value) and value >= 0


def _check_counts(family: Metric, names: tuple[str, ...]) -> Problem | None:
    for i, s in enumerate(family.samples):
        if s.name in names and not _count_like(s.value):
            return Problem(f"{s.name} is {s.value!r}: a count is never negative nor NaN", i)
    return None


def _series_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "le"))


def _check_histogram(family: Metric) -> Problem | None:
    gauge = family.type == "gaugehistogram"
    count_name = f"{family.name}_gcount" if gauge else f"{family.name}_count"
    problem = _check_counts(family, (count_name,))
    if problem is not None:
        return problem
    buckets: dict[tuple[tuple[str, str], ...], list[tuple[float, float, int]]] = {}
    counts: dict[tuple[tuple[str, str], ...], tuple[float, int]] = {}
    for i, s in enumerate(family.samples):
        key = _series_key(s.labels)
        if s.name == count_name:
            counts[key] = (s.value, i)
        elif s.name == f"{family.name}_bucket":
            if "le" not in s.labels:
                return Problem(f"bucket of {family.name} without an le label", i)
            bound = float(s.labels["le"])
            if math.isnan(bound) or math.isnan(s.value):
                return Problem(f"bucket of {family.name} with NaN", i)
            if not gauge and s.value < 0:
                return Problem(f"bucket le={s.labels['le']} of {family.name} is negative", i)
            buckets.setdefault(key, []).append((bound, s.value, i))
    for key, rows in buckets.items():
        rows.sort()
        for (lo, below, _), (hi, above, i) in pairwise(rows):
            if above < below:
                return Problem(f"buckets of {family.name} go down from le={lo:g} ({below:g}) "
                               f"to le={hi:g} ({above:g})", i)
        top_bound, top, i = rows[-1]
        if top_bound != math.inf:
            return Problem(f"histogram {family.name}{_braces(key)} has no +Inf bucket", i)
        count = counts.get(key)
        if count is not None and count[0] != top:
            return Problem(f"{count_name}{_braces(key)} is {count[0]:g} but the +Inf bucket "
                           f"is {top:g}", count[1])
    for key, (_, i) in counts.items():
        if key not in buckets:
            return Problem(f"histogram {family.name}{_braces(key)} has no +Inf bucket", i)
    return None


def _braces(key: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in key) + "}" if key else ""


def type_suffixes(kind: str) -> tuple[str, ...]:
    """Sample-name suffixes a family of ``kind`` may use (both formats)."""
    return _SUFFIXES.get(kind, ("",))


_SUFFIXES = {
    "counter": ("", "_total", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "histogram": ("_count", "_sum", "_bucket", "_created"),
    "gaugehistogram": ("_gcount", "_gsum", "_bucket"),
    "info": ("", "_info"),
}
