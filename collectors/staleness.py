"""Stale markers: how a scrape says a series it had last time is gone.

Prometheus writes a special NaN (bit pattern 0x7ff0000000000002) for each series that
vanished from a target, or for all of them when the scrape fails, so nothing reads a
vanished series as current. The markers travel beside the samples
(``ScrapeResult.stale``), never among them, so a derivation never takes one for a value.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from collectors.base import Sample

STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
_STALE_BITS = struct.pack("<d", STALE_NAN)

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


def is_stale(value: float) -> bool:
    """True only for the stale marker, not for an ordinary NaN."""
    return struct.pack("<d", value) == _STALE_BITS


class SeriesTracker:
    """Remembers the series of a target's last scrape and names those that vanish."""

    def __init__(self) -> None:
        self._last: dict[SeriesKey, Sample] = {}

    def update(self, samples: Iterable[Sample], ts: float) -> tuple[Sample, ...]:
        """Stale markers at ``ts`` for last scrape's series missing from ``samples``."""
        current = {(s.name, tuple(sorted(s.labels.items()))): s for s in samples}
        gone = tuple(Sample(s.name, s.labels, STALE_NAN, ts)
                     for key, s in self._last.items() if key not in current)
        self._last = current
        return gone
