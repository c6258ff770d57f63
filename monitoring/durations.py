"""Durations as people write them in config and on the command line: 30s, 5m, 2h, 7d, 1w."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text`` ("90s", "1h30m", "7d"); a bare number is seconds."""
    if isinstance(text, bool):
        raise ValueError(f"expected a duration like '5m' or '7d', got {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise ValueError(f"a duration must be finite, got {text!r}")
        if text < 0:
            raise ValueError(f"a duration cannot be negative, got {text!r}")
        return float(text)
    s = str(text).strip().replace(" ", "")
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"expected a duration like '30s', '5m', '2h' or '7d', got {text!r}")
    if not math.isfinite(total):
        raise ValueError(f"a duration must be finite, got {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds`` in the units above, e.g. 5400 -> '1h30m'."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    out, rest = [], round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out) or "0s"
