"""Modelled network delay of a region (configuration, not measurement)."""

from __future__ import annotations

import numpy as np

_RING = 1 << 16  # seeded samples drawn up front: drawing per request costs more


class NetworkModel:
    def __init__(self, delay_ms: float, jitter_ms: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        samples = rng.normal(delay_ms / 1000.0, jitter_ms / 1000.0, _RING)
        self._base: list[float] = np.maximum(samples, 0.0).tolist()
        self._ring = self._base
        self._i = 0
        self.factor = 1.0

    def set_factor(self, factor: float) -> None:
        """Scale every delay by ``factor`` (a degraded link); 1 restores the model.

        The ring is rebuilt once here, so a request pays nothing for the change.
        """
        if not factor > 0:
            raise ValueError(f"network delay factor must be positive, got {factor}")
        self.factor = float(factor)
        self._ring = self._base if factor == 1.0 else [d * factor for d in self._base]

    def sample(self) -> float:
        """One request's delay in seconds, never negative."""
        self._i = (self._i + 1) & (_RING - 1)
        return self._ring[self._i]
