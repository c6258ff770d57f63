"""Resonance router: persona score = affinity row . signal vector; argmax wins."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from engine.personas import AFFINITY, PERSONA_IDS
from engine.signals import extract_signals


@dataclass(frozen=True, slots=True)
class RouteDecision:
    persona: str
    confidence: float
    scores: tuple[float, ...]


def score(signals: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(sum(a * s for a, s in zip(row, signals, strict=True)) for row in AFFINITY)


@lru_cache(maxsize=4096)
def route(text: str) -> RouteDecision:
    """Pure and deterministic, so repeated messages are memoised."""
    scores = score(extract_signals(text))
    best = max(range(len(scores)), key=scores.__getitem__)
    total = sum(scores)
    # Share of the winning score: 1/len(personas) when nothing stands out.
    confidence = scores[best] / total if total > 0 else 1.0 / len(scores)
    return RouteDecision(PERSONA_IDS[best], round(confidence, 4), scores)
