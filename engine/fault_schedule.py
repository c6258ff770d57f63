"""A seeded, random schedule of faults over a range: a week nobody placed by hand.

``random_schedule`` is pure: the same arguments give the same schedule. Kinds are
drawn in shuffled rounds (every kind once before any twice), each with a target of
the right sort, a severity (a kind's severities alternate between its rounds, from a
random first one), a duration around the kind's typical one and a start time. Faults
never overlap: there are at least ``gap_s`` of normal service before each and after
the last, and the rest of the range is spread at random between them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.builders import BUILDER_NAMES
from engine.faults import ALL, FAULT_KINDS, fault_kind, resolve_params

MINUTE = 60.0
DAY = 86_400.0

# Typical duration of each kind, in seconds; a drawn one lies in [0.5, 1.5] times it.
TYPICAL_DURATION_S: dict[str, float] = {
    "l1_flush": 60.0,  # a flush is instantaneous: one minute, never scaled
    "l2_down": 40 * MINUTE,
    "index_dropped": 60 * MINUTE,
    "builder_errors": 30 * MINUTE,
    "replica_lag": 45 * MINUTE,
    "region_down": 20 * MINUTE,
    "network_delay": 30 * MINUTE,
    "traffic_surge": 30 * MINUTE,
    "traffic_drop": 30 * MINUTE,
    "traffic_sag": 3 * 60 * MINUTE,
    "cpu_hog": 30 * MINUTE,
    "memory_leak": 60 * MINUTE,
    "db_pool_exhaustion": 30 * MINUTE,
}
assert set(TYPICAL_DURATION_S) == set(FAULT_KINDS), "a typical duration for every kind"


@dataclass(frozen=True)
class ScheduledFault:
    """A fault ``at`` seconds after the range's start, for ``duration`` seconds."""

    kind: str
    target: str
    at: float
    duration: float
    params: dict[str, float | str] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.at + self.duration


def _target(kind: str, roles: Mapping[str, str], rng: np.random.Generator) -> str:
    regions = sorted(roles)
    match fault_kind(kind).target:
        case "replica":
            replicas = [r for r in regions if roles[r] == "replica"]
            if not replicas:
                raise ValueError(f"{kind} needs a replica region; regions: {regions}")
            return str(rng.choice(replicas))
        case "region_or_all":
            return str(rng.choice([*regions, ALL]))
        case "builder":
            return f"{rng.choice(regions)}/{rng.choice(BUILDER_NAMES)}"
        case _:
            return str(rng.choice(regions))


def random_schedule(seed: int, n: int, days: float, regions: Mapping[str, str], *,
                    kinds: Sequence[str] = FAULT_KINDS, gap_s: float = 2 * 3600.0
                    ) -> list[ScheduledFault]:
    """``n`` non-overlapping faults within ``[0, days)`` days, sorted by start.

    ``regions`` maps each region to its role (primary or replica). Raises ValueError
    when ``n`` faults of these kinds, spaced by ``gap_s``, cannot fit in the range.
    """
    if n < 0:
        raise ValueError(f"the number of faults cannot be negative, got {n}")
    if not days > 0:
        raise ValueError(f"days must be positive, got {days}")
    if not regions:
        raise ValueError("a schedule needs at least one region")
    for kind in kinds:
        fault_kind(kind)
    if n == 0:
        return []
    if not kinds:
        raise ValueError("a schedule needs at least one fault kind")
    rng = np.random.default_rng([seed, n])
    rounds = math.ceil(n / len(kinds))
    drawn = [str(k) for _ in range(rounds) for k in rng.permutation(list(kinds))][:n]
    first = {k: int(rng.integers(len(fault_kind(k).severities))) for k in kinds}
    seen: dict[str, int] = {}
    severities, durations = [], []
    for kind in drawn:
        spec = fault_kind(kind)
        severities.append(spec.severities[(first[kind] + seen.get(kind, 0))
                                          % len(spec.severities)])
        seen[kind] = seen.get(kind, 0) + 1
        typical = TYPICAL_DURATION_S[kind]
        durations.append(typical if kind == "l1_flush" else
                         max(MINUTE, round(typical * rng.uniform(0.5, 1.5) / MINUTE) * MINUTE))
    # The faults and their gaps back to back, then the slack spread at random between them.
    slack = days * DAY - gap_s - sum(d + gap_s for d in durations)
    if slack < 0:
        raise ValueError(f"{n} faults do not fit in {days:g} days: they last "
                         f"{sum(durations) / 3600:.3g} h and need {n + 1} gaps of "
                         f"{gap_s / 3600:g} h of normal service")
    cuts = np.floor(np.sort(rng.uniform(0.0, slack, n)) / MINUTE) * MINUTE
    out, packed = [], gap_s
    for kind, severity, duration, extra in zip(drawn, severities, durations, cuts,
                                                strict=True):
        out.append(ScheduledFault(kind, _target(kind, regions, rng), float(packed + extra),
                                  float(duration), resolve_params(kind, {"severity": severity})))
        packed += duration + gap_s
    return out
