"""The store protocol every backend implements: write a batch, read a series by range."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class StoreError(Exception):
    """A store could not do what was asked; the message names the store and the series."""


class StoreCorrupt(StoreError):
    """The store's file is damaged: it failed its integrity check or is not a database."""


class StoreFull(StoreError):
    """The disk (or the store's size limit) is full; nothing of the batch was written."""


@dataclass(frozen=True, slots=True)
class Point:
    series: str
    ts: float
    value: float


@dataclass(frozen=True)
class WriteResult:
    """What a write committed, and the samples it refused, counted by reason."""

    written: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    first_refusal: str | None = None  # the first refused sample, as a sentence

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())


@dataclass(frozen=True)
class Series:
    """One series over a range: parallel arrays of epoch seconds and values.

    ``warnings`` names the parts of the range that could not be read (a damaged chunk
    costs its series and day, not the read).
    """

    id: str
    ts: np.ndarray
    values: np.ndarray
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls, series_id: str, warnings: tuple[str, ...] = ()) -> Series:
        return cls(series_id, np.empty(0), np.empty(0), warnings)


class Store(Protocol):
    def write(self, points: Iterable[Point]) -> WriteResult:
        """Append a batch atomically: all of it is committed, or none (refused samples
        are left out and counted in the result)."""
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
        return Series(series.id, grid, np.full(len(grid), np.nan), series.warnings)
    idx = np.searchsorted(series.ts, grid, side="right") - 1
    values = np.where(idx >= 0, series.values[np.clip(idx, 0, None)], np.nan)
    stale = (idx < 0) | (grid - series.ts[np.clip(idx, 0, None)] > lookback)
    values = np.where(stale, np.nan, values)
    return Series(series.id, grid, values, series.warnings)
