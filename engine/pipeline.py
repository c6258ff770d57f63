"""Routing, then prompt building: the heart of a recommendation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.builders import BUILDER_NAMES, BuilderError, BuilderFactory
from engine.instruments import NullInstruments
from engine.personas import PERSONA_IDS
from engine.router import RouteDecision, route


@dataclass(frozen=True, slots=True)
class Recommendation:
    persona: str
    confidence: float
    prompt: str


class Pipeline:
    def __init__(self, factory: BuilderFactory, instruments: NullInstruments) -> None:
        self._factory = factory
        instruments.declare(BUILDER_NAMES, PERSONA_IDS)
        self._decided = {p: instruments.counter("router_decisions", p) for p in PERSONA_IDS}
        self._called = {b: instruments.counter("builder_calls", b) for b in BUILDER_NAMES}
        self._failed = {b: instruments.counter("builder_errors", b) for b in BUILDER_NAMES}

    def route(self, message: str) -> RouteDecision:
        decision = route(message)
        self._decided[decision.persona]()
        return decision

    def recommend(self, message: str, prefs: Mapping[str, Any],
                  history: Sequence[Mapping[str, Any]]) -> Recommendation:
        decision = self.route(message)
        builder = self._factory.for_persona(decision.persona)
        self._called[builder.name]()
        try:
            prompt = builder.build(message, prefs, history)
        except BuilderError:
            self._failed[builder.name]()
            raise
        return Recommendation(decision.persona, decision.confidence, prompt)
