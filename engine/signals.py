"""Resonance signals: deterministic feature scores in [0, 1] from message text."""

from __future__ import annotations

import re

from engine.personas import SIGNALS


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_KEYWORDS: dict[str, frozenset[str]] = {
    "career": _words("career job promotion interview manager salary role hiring "
                        "resume cv workplace colleague"),
    "learning": _words("learn learning study course skill skills book read teach "
                          "mentor understand"),
    "technical": _words("code python bug api server database deploy software "
                           "algorithm system performance latency"),
    "data": _words("data metrics analysis dataset statistics numbers chart sql "
                      "model trend"),
    "problem": _words("problem issue error fix broken fails failing debug "
                         "solve wrong"),
    "motivation": _words("motivation motivated stuck lazy energy habit discipline "
                            "procrastinate procrastinating"),
    "goal": _words("goal goals target achieve progress milestone plan resolution "
                      "habit"),
    "wellbeing": _words("sleep health exercise tired balance wellbeing rest "
                           "burnout calm"),
    "stress": _words("stress stressed anxious worried overwhelmed pressure afraid "
                        "nervous panic"),
    "creativity": _words("idea ideas creative brainstorm imagine inspiration "
                            "original story"),
    "writing": _words("write writing essay blog poem draft novel article "
                         "words"),
    "design": _words("design logo colour color layout sketch visual art "
                        "illustration"),
    "urgency": _words("urgent asap now today deadline quickly immediately "
                         "tomorrow"),
    "planning": _words("plan schedule roadmap steps organise organize prioritise "
                          "prioritize week"),
    "reflection": _words("feel feeling think thinking why meaning reflect "
                            "wonder"),
    "positivity": _words("great happy excited love enjoy glad thanks "
                            "awesome"),
}
_WORD = re.compile(r"[a-z]+")


def extract_signals(text: str) -> tuple[float, ...]:
    """One score per entry of ``SIGNALS``, in that order."""
    lowered = text.lower()
    words = _WORD.findall(lowered)
    counts = dict.fromkeys(_KEYWORDS, 0)
    for word in words:
        for name, keywords in _KEYWORDS.items():
            if word in keywords:
                counts[name] += 1
    scores: dict[str, float] = {k: min(1.0, v / 2.0) for k, v in counts.items()}
    scores["baseline"] = 1.0
    scores["question"] = 1.0 if "?" in text else 0.0
    scores["length"] = min(1.0, len(words) / 40.0)
    return tuple(scores[name] for name in SIGNALS)
