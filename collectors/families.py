"""prometheus-client metric families → Samples, the same way for text and in-process.

Counters, histograms and summaries carry a ``_created`` sample (or, in the text
format, a ``<name>_created`` gauge family). It is a start timestamp, not a
measurement, so both paths drop it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client.metrics_core import Metric

from collectors.base import Sample

CREATED_TYPES = frozenset({"counter", "histogram", "summary", "gaugehistogram"})


def created_names(families: Iterable[Metric]) -> set[str]:
    """Names of the ``_created`` series belonging to the given families."""
    return {f"{f.name}_created" for f in families if f.type in CREATED_TYPES}


def families_to_samples(
    families: list[Metric],
    ts: float,
    extra_labels: Mapping[str, str] | None = None,
    honor_labels: bool = False,
) -> tuple[list[Sample], list[str]]:
    """Flatten families into Samples; duplicates go to ``rejected``.

    A sample keeps the timestamp the payload gives it (Prometheus's
    ``honor_timestamps: true``); one without is stamped ``ts``, the scrape time from
    the caller's clock, so backfill and live runs line up on the same grid.
    Extra labels (the target's) win over the payload's; a clashing payload label is
    kept as ``exported_<name>`` (Prometheus's ``honor_labels: false``). With
    ``honor_labels`` the payload's value wins and the target's only fills in a label
    the sample lacks.
    """
    drop = created_names(families)
    seen: set[tuple[str, tuple[tuple[str, str], ...], float]] = set()
    samples: list[Sample] = []
    rejected: list[str] = []
    for family in families:
        for s in family.samples:
            if s.name in drop:
                continue
            labels = merge_labels(s.labels, extra_labels, honor_labels) if extra_labels \
                else s.labels
            at = ts if s.timestamp is None else float(s.timestamp)
            key = (s.name, tuple(sorted(labels.items())), at)
            if key in seen:
                rejected.append(f"duplicate series {format_series(s.name, labels)}")
                continue
            seen.add(key)
            samples.append(Sample(s.name, labels, float(s.value), at))
    return samples, rejected


def merge_labels(labels: Mapping[str, str], extra: Mapping[str, str],
                 honor_labels: bool = False) -> dict[str, str]:
    """``labels`` with the target's ``extra`` attached, as Prometheus attaches them."""
    merged = dict(labels)
    for name, value in extra.items():
        if honor_labels and name in merged:
            continue
        if name in merged and merged[name] != value:
            merged[f"exported_{name}"] = merged[name]
        merged[name] = value
    return merged


def format_series(name: str, labels: Mapping[str, str]) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
