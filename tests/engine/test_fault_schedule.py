import itertools

import pytest

from engine.config import EngineConfig
from engine.fault_schedule import random_schedule
from engine.faults import FAULT_KINDS, KINDS, check_target
from monitoring.app.backfill import with_faults
from monitoring.app.config import Config

ROLES = {name: r.role for name, r in EngineConfig().regions.items()}
WEEK = 7 * 86400


def test_same_seed_same_schedule_other_seed_other_one() -> None:
    a = random_schedule(7, 20, 7, ROLES)
    assert a == random_schedule(7, 20, 7, ROLES)
    assert a != random_schedule(8, 20, 7, ROLES)


@pytest.mark.parametrize("seed", range(5))
def test_faults_are_valid_apart_and_within_the_range(seed: int) -> None:
    gap = 2 * 3600
    faults = random_schedule(seed, 26, 7, ROLES, gap_s=gap)
    assert len(faults) == 26
    assert faults[0].at >= gap and faults[-1].end <= WEEK - gap
    for a, b in itertools.pairwise(faults):
        assert a.end + gap <= b.at
    for f in faults:
        check_target(f.kind, f.target, ROLES)
        assert f.at % 60 == 0 and f.duration >= 60
    # Two rounds: every kind twice, the kinds with two severities at both.
    assert {f.kind for f in faults} == set(FAULT_KINDS)
    for kind, spec in KINDS.items():
        assert {f.params["severity"] for f in faults if f.kind == kind} == \
            set(spec.severities)


def test_too_many_faults_for_the_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="do not fit in 1 days"):
        random_schedule(1, 20, 1, ROLES)
    with pytest.raises(ValueError, match="unknown fault kind"):
        random_schedule(1, 2, 7, ROLES, kinds=("meteor",))
    assert random_schedule(1, 0, 7, ROLES) == []


def test_backfill_faults_spelling() -> None:
    config = Config()
    held_out = with_faults(config, "random:13", 99, 7)
    assert held_out.engine.seed == 99
    assert len(held_out.backfill.faults) == 13
    assert [f.kind for f in held_out.backfill.faults] == \
        [f.kind for f in random_schedule(99, 13, 7, ROLES)]
    assert with_faults(config, "none", None, 7).backfill.faults == []
    assert with_faults(config, "config", None, 7) == config
    for bad in ("random", "random:x", "chaos:3"):
        with pytest.raises(ValueError, match="expected 'config', 'none' or 'random:N'"):
            with_faults(config, bad, 1, 7)
