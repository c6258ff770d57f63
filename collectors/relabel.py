"""Target labels on every sample of a collector that does not attach them itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from collectors.base import Collector, Sample, ScrapeResult
from collectors.families import merge_labels

# The series a scrape writes about itself: in Prometheus they carry the target's
# labels alone, so a target label replaces the collector's own ``target``.
_SCRAPE_SERIES = frozenset({"up", "scrape_duration_seconds"})


class TargetLabels:
    """Wraps ``inner`` so each sample (``up`` and stale markers included) carries
    ``labels``, attached with Prometheus's ``honor_labels`` semantics."""

    def __init__(self, inner: Collector, labels: Mapping[str, str],
                 honor_labels: bool = False) -> None:
        self.inner = inner
        self.target = inner.target
        self.labels = dict(labels)
        self.honor_labels = honor_labels

    def collect(self) -> ScrapeResult:
        result = self.inner.collect()
        return replace(result, samples=self._labelled(result.samples),
                       stale=self._labelled(result.stale))

    def _labelled(self, samples: tuple[Sample, ...]) -> tuple[Sample, ...]:
        own = {"target": self.target}
        return tuple(
            Sample(s.name, {**s.labels, **self.labels}, s.value, s.ts)
            if s.name in _SCRAPE_SERIES and s.labels == own else
            Sample(s.name, merge_labels(s.labels, self.labels, self.honor_labels), s.value, s.ts)
            for s in samples)
