"""How far Prometheus's ``rate()`` may stray from the exact rate over the same window.

Prometheus does not divide the increase between the window's edges by the window:
it takes the increase between the first and the last sample *inside* the window and
extrapolates it towards the edges (``extrapolatedRate`` in promql/functions.go):

- ``span`` is the time between the first and the last sample, ``avg = span / (n - 1)``;
- towards each edge it extends by the gap to that edge when the gap is below
  ``1.1 * avg``, else by ``avg / 2``;
- for a counter, the extension towards the start is cut to where the counter would
  have reached zero (``span * first / increase``), so a series that was young at the
  start of the window is extended less (down to not at all);
- the extrapolated increase is divided by the window.

When every counter is flat near both edges (all its change happens well inside the
window) the increase between first and last sample is the exact increase, so for a
series of a target whose scrapes in the window have gaps ``to_start``/``to_end``:

    rate_prometheus / rate_exact = (span + start_ext + end_ext) / span

with ``start_ext`` between 0 (cut by the zero rule) and its full value. ``Bounds``
gives that factor's range for one target; a sum of series from several targets is
scaled by a factor inside the union of their ranges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EXTRAPOLATION_THRESHOLD = 1.1  # Prometheus: extend to an edge only if the gap < 1.1 * avg


@dataclass(frozen=True)
class Bounds:
    """``lo <= rate_prometheus / rate_exact <= hi`` for counters flat at both edges."""

    lo: float
    hi: float

    def union(self, other: Bounds) -> Bounds:
        return Bounds(min(self.lo, other.lo), max(self.hi, other.hi))

    @property
    def ratio_lo(self) -> float:
        """Smallest factor on a ratio whose numerator and denominator are both scaled."""
        return self.lo / self.hi

    @property
    def ratio_hi(self) -> float:
        return self.hi / self.lo


def rate_bounds(sample_times: Sequence[float], start: float, end: float) -> Bounds:
    """Extrapolation factor range of ``rate(x[end - start])`` evaluated at ``end``.

    ``sample_times`` are the scrape timestamps (seconds) of one target inside the
    window, as Prometheus returns them for a range selector.
    """
    times = sorted(sample_times)
    if len(times) < 2:
        raise ValueError(f"rate() needs two samples in the window, got {len(times)}")
    span = times[-1] - times[0]
    avg = span / (len(times) - 1)
    threshold = EXTRAPOLATION_THRESHOLD * avg
    to_start, to_end = times[0] - start, end - times[-1]
    end_ext = to_end if to_end < threshold else avg / 2
    # Uncut, the start extension is the gap (or avg/2 past the threshold); the zero
    # rule can only shorten the gap, down to 0, before the same threshold test.
    start_ext_max = to_start if to_start < threshold else threshold
    return Bounds(lo=(span + end_ext) / span, hi=(span + start_ext_max + end_ext) / span)


def combined(bounds: Iterable[Bounds]) -> Bounds:
    out: Bounds | None = None
    for b in bounds:
        out = b if out is None else out.union(b)
    if out is None:
        raise ValueError("no bounds to combine")
    return out
