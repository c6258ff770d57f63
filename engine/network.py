"""Modelled network delay of a region (configuration, not measurement)."""

from __future__ import annotations

import numpy as np

_RING = 1 << 16  # seeded samples drawn up front: drawing per request costs more


class NetworkModel:
    def __init__(self, delay_ms: float, jitter_ms: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        samples = rng.normal(delay_ms / 1000.0, jitter_ms / 1000.0, _RING)
        self._ring: list[float] = np.maximum(samples, 0.0).tolist()
        self._i = 0

    def sample(self) -> float:
        """One request's delay in seconds, never negative."""
        self._i = (self._i + 1) & (_RING - 1)
        return self._ring[self._i]
