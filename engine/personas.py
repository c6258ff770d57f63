"""The four personas and their affinity to each resonance signal."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Persona:
    id: str
    name: str
    description: str


PERSONAS: tuple[Persona, ...] = (
    Persona("mentor", "Mentor", "Career and learning guidance from experience"),
    Persona("coach", "Coach", "Motivation, goals and wellbeing"),
    Persona("analyst", "Analyst", "Technical problems, data and structured reasoning"),
    Persona("creative", "Creative", "Ideas, writing and design"),
)
PERSONA_IDS: tuple[str, ...] = tuple(p.id for p in PERSONAS)

SIGNALS: tuple[str, ...] = (
    "baseline", "career", "learning", "technical", "data", "problem", "motivation",
    "goal", "wellbeing", "stress", "creativity", "writing", "design", "question",
    "urgency", "planning", "reflection", "length", "positivity",
)

# Rows follow PERSONAS, columns follow SIGNALS: 4 x 19 = 76 affinities.
# The baseline column breaks ties deterministically in favour of the mentor.
AFFINITY: tuple[tuple[float, ...], ...] = (
    #  base  care  lear  tech  data  prob  moti  goal  well  stre
    #  crea  writ  desi  ques  urg   plan  refl  len   pos
    (  # mentor
        0.30, 1.00, 0.90, 0.20, 0.10, 0.30, 0.30, 0.50, 0.20, 0.20,
        0.10, 0.10, 0.10, 0.40, 0.20, 0.60, 0.70, 0.30, 0.20,
    ),
    (  # coach
        0.29, 0.30, 0.20, 0.05, 0.05, 0.20, 1.00, 0.90, 0.90, 0.80,
        0.10, 0.05, 0.05, 0.20, 0.40, 0.40, 0.50, 0.10, 0.50,
    ),
    (  # analyst
        0.28, 0.20, 0.40, 1.00, 1.00, 0.90, 0.05, 0.20, 0.05, 0.10,
        0.10, 0.10, 0.20, 0.50, 0.50, 0.50, 0.10, 0.40, 0.10,
    ),
    (  # creative
        0.27, 0.10, 0.20, 0.20, 0.10, 0.20, 0.30, 0.10, 0.20, 0.10,
        1.00, 0.90, 0.90, 0.20, 0.10, 0.20, 0.30, 0.20, 0.60,
    ),
)
