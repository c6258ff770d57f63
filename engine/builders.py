"""One prompt builder per persona, behind a factory.

A shared ``ErrorInjector`` lets a fault make a fraction of one builder's calls
fail, the way a broken template or a bad deploy of one builder would.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from typing import Any


class BuilderError(RuntimeError):
    """A prompt builder failed to produce a prompt."""


class ErrorInjector:
    """Failure rate per builder name; seeded, so bursts are reproducible."""

    def __init__(self, seed: int) -> None:
        self._rates: dict[str, float] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def set_rate(self, builder: str, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"error rate must be in [0, 1], got {rate}")
        with self._lock:
            if rate == 0.0:
                self._rates.pop(builder, None)
            else:
                self._rates[builder] = rate

    def rate(self, builder: str) -> float:
        return self._rates.get(builder, 0.0)

    def should_fail(self, builder: str) -> bool:
        rate = self._rates.get(builder)
        if not rate:
            return False
        with self._lock:
            return self._rng.random() < rate


class PromptBuilder:
    """Base: a persona-specific system line plus the shared context sections."""

    name = "base"
    system = ""

    def __init__(self, injector: ErrorInjector) -> None:
        self._injector = injector

    def build(self, message: str, prefs: Mapping[str, Any],
              history: Sequence[Mapping[str, Any]]) -> str:
        if self._injector.should_fail(self.name):
            raise BuilderError(f"{self.name} builder failed")
        tone = prefs.get("tone", "friendly")
        language = prefs.get("language", "en")
        recent = ", ".join(h["persona_id"] for h in history[:5]) or "none"
        return (f"{self.system}\nTone: {tone}. Language: {language}.\n"
                f"{self.guidance(message)}\nRecent personas: {recent}.\nUser: {message}")

    def guidance(self, message: str) -> str:
        raise NotImplementedError


class MentorPromptBuilder(PromptBuilder):
    name = "mentor"
    system = "You are an experienced mentor who shares career and learning advice."

    def guidance(self, message: str) -> str:
        return "Relate the question to long-term growth; suggest one next step to learn."


class CoachPromptBuilder(PromptBuilder):
    name = "coach"
    system = "You are a supportive coach focused on goals, motivation and wellbeing."

    def guidance(self, message: str) -> str:
        return "Acknowledge the feeling first, then agree on one small, concrete action."


class AnalystPromptBuilder(PromptBuilder):
    name = "analyst"
    system = "You are a precise analyst who reasons step by step about technical problems."

    def guidance(self, message: str) -> str:
        words = len(message.split())
        depth = "brief" if words < 12 else "detailed"
        return f"Give a {depth} structured answer: facts, hypotheses, checks, conclusion."


class CreativePromptBuilder(PromptBuilder):
    name = "creative"
    system = "You are a creative partner for ideas, writing and design."

    def guidance(self, message: str) -> str:
        return "Offer three distinct directions, then develop the most original one."


_BUILDERS: tuple[type[PromptBuilder], ...] = (
    MentorPromptBuilder, CoachPromptBuilder, AnalystPromptBuilder, CreativePromptBuilder,
)
BUILDER_NAMES: tuple[str, ...] = tuple(b.name for b in _BUILDERS)


class BuilderFactory:
    def __init__(self, injector: ErrorInjector) -> None:
        self._builders = {b.name: b(injector) for b in _BUILDERS}

    def for_persona(self, persona: str) -> PromptBuilder:
        try:
            return self._builders[persona]
        except KeyError:
            raise ValueError(f"no prompt builder for persona {persona!r}") from None
