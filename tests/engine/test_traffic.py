from collections import Counter

from engine.config import EngineConfig
from engine.traffic import TrafficModel
from tests.engine.conftest import START  # a Wednesday 00:00 UTC

DAY = 86_400


def test_deterministic_and_independent_of_how_the_range_is_split() -> None:
    a = TrafficModel(EngineConfig()).requests_for(START, START + 3600)
    b = TrafficModel(EngineConfig())
    assert a == b.requests_for(START, START + 1234.5) + b.requests_for(START + 1234.5,
                                                                         START + 3600)
    assert all(START <= r.ts < START + 3600 for r in a)
    assert [r.ts for r in a] == sorted(r.ts for r in a)
    other = TrafficModel(EngineConfig(seed=7)).requests_for(START, START + 3600)
    assert other != a


def test_shape_diurnal_weekly_and_regional_mix() -> None:
    model = TrafficModel(EngineConfig())
    us_offset = -5
    day_peak = model.shape(START + (14 - us_offset) * 3600, us_offset)
    night = model.shape(START + (2 - us_offset) * 3600, us_offset)
    saturday = model.shape(START + 3 * DAY + (14 - us_offset) * 3600, us_offset)
    assert day_peak > 4 * night
    assert saturday < day_peak
    reqs = model.requests_for(START, START + DAY)
    regions = Counter(r.region for r in reqs)
    assert regions["us"] > regions["eu"] > regions["asia"]
    endpoints = Counter(r.path.split("?")[0] for r in reqs)
    assert endpoints.most_common(1)[0][0] == "/v2/recommend"
    # A weekday at the default 60 requests/min peak: ~43k a day, ~300k a week.
    assert 30_000 < len(reqs) < 60_000


def test_users_are_skewed() -> None:
    reqs = TrafficModel(EngineConfig()).requests_for(START, START + 6 * 3600)
    users = Counter(r.body for r in reqs if r.path == "/v2/recommend")
    top = sum(n for _, n in users.most_common(20))
    assert top > 0.1 * sum(users.values())
