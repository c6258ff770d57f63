"""A fixed clock for collector tests (collectors only need ``now()``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FixedClock:
    ts: float = 1_700_000_000.0

    def now(self) -> float:
        return self.ts


def meta(result, name: str) -> float:
    """Value of the ``up`` or ``scrape_duration_seconds`` sample of a result."""
    (value,) = [s.value for s in result.samples if s.name == name]
    return value


def by_name(result) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in result.samples:
        out.setdefault(s.name, []).append(s)
    return out
