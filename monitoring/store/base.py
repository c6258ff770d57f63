"""The store protocol every backend implements: write a batch, read a series by range."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class StoreError(Exception):
    """A store could not do what was asked; the message names the store and the series."""


class OutOfOrderSample(StoreError):
    """A sample older than data already sealed for its series."""


@dataclass(frozen=True, slots=True)
class Point:
    series: str
    ts: float
    value: float


@dataclass(frozen=True)
class Series:
    """One series over a range: parallel arrays of epoch seconds and values."""

    id: str
    ts: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls, series_id: str) -> Series:
        return cls(series_id, np.empty(0), np.empty(0))


class Store(Protocol):
    def write(self, points: Iterable[Point]) -> None:
        """Append a batch atomically: all of it is committed, or none."""
        ...

    def read(self, series: str, start: float, end: float, step: float | None = None) -> Series:
        """Samples in [start, end]; with ``step``, one value per step (last at or before)."""
        ...

    def read_many(
        self, series: Sequence[str], start: float, end: float, step: float | None = None
    ) -> dict[str, Series]: ...

    def series_ids(self) -> list[str]: ...

    def close(self) -> None: ...


def align(series: Series, start: float, end: float, step: float, lookback: float) -> Series:
    """Resample to a regular grid: the last sample at or before each step, within ``lookback``."""
    grid = np.arange(start, end + step / 2, step)
    if len(series) == 0:
        return Series(series.id, grid, np.full(len(grid), np.nan))
    idx = np.searchsorted(series.ts, grid, side="right") - 1
    values = np.where(idx >= 0, series.values[np.clip(idx, 0, None)], np.nan)
    stale = (idx < 0) | (grid - series.ts[np.clip(idx, 0, None)] > lookback)
    values = np.where(stale, np.nan, values)
    return Series(series.id, grid, values)
