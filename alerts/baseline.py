"""The tuning baseline: the rules' metrics read from the store on the scrape grid, and the
faults recorded beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monitoring.groundtruth import FaultLog, FaultRecord
from monitoring.store.base import Store


@dataclass(frozen=True)
class History:
    ts: np.ndarray
    values: dict[str, np.ndarray]
    faults: tuple[FaultRecord, ...]

    @property
    def empty(self) -> bool:
        return all(not np.isfinite(v).any() for v in self.values.values())


def read_history(store: Store, metric_ids: Sequence[str], start: float, end: float,
                 faults: FaultLog | None = None, *, step: float) -> History:
    """Every metric on one regular grid over [start, end] (``step``: the scrape interval,
    one grid point per sample), plus the faults in range."""
    # Snap to the step so grids from different runs line up with the evaluator's.
    start = np.ceil(start / step) * step
    end = np.floor(end / step) * step
    series = store.read_many(list(metric_ids), start, end, step)
    ts = np.arange(start, end + step / 2, step)
    values = {m: s.values for m, s in series.items()}
    recorded = tuple(faults.between(start, end)) if faults is not None else ()
    return History(ts, values, recorded)
