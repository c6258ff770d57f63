"""Redis (the shared L2) killed mid-run, then restarted on the same port: the engine keeps
answering 2xx from L1 and the database, the scraped L2 metrics show the outage, the
L2 alert fires, and it resolves once L2 hits resume."""

from __future__ import annotations

import json

from alerts.evaluator import evaluate, store_query
from collectors.exposition import ExpositionCollector
from engine.cluster import Cluster
from engine.config import CacheConfig, DatabaseConfig, EngineConfig
from monitoring.clock import VirtualClock
from monitoring.scrape import Scraper
from monitoring.store.sqlite import SQLiteStore
from tests.reliability.helpers import rule
from tests.servers import RedisServer

RULE = rule("region_or_l2_down", "l2_error_rate", ">", 1, for_s=60)
USERS_PER_MINUTE = 15


def _traffic(c: Cluster, minute: int) -> list[int]:
    """New users each minute, so every minute has L1 misses that ask L2: written by
    ``us`` after its database read, then read back from L2 by ``eu`` (a shared hit)."""
    codes = []
    for i in range(USERS_PER_MINUTE):
        body = json.dumps({"user_id": f"m{minute}-u{i}", "message": "my code has a bug"})
        for region in ("us", "eu"):
            codes.append(c.request(region, "POST", "/v2/recommend", body.encode()).status)
    # Repeats of a user seen before: answered by L1 whatever L2 is doing.
    body = json.dumps({"user_id": f"m{minute}-u0", "message": "again"})
    codes.append(c.request("us", "POST", "/v2/recommend", body.encode()).status)
    return codes


def test_redis_killed_engine_serves_alert_fires_and_resolves(tmp_path):
    with RedisServer() as redis_server:
        config = EngineConfig(cache=CacheConfig(l2="redis", l2_url=redis_server.url),
                              database=DatabaseConfig(seed_rows=500, seed_users=50))
        clock = VirtualClock(1_800_000_000.0)
        store = SQLiteStore(tmp_path / "ionmon.db", clock=clock)
        with Cluster(config) as c:
            urls = c.start_http()
            scraper = Scraper([ExpositionCollector(n, f"{u}/metrics", clock, timeout_s=2)
                               for n, u in urls.items()], window_scrapes=1)
            states: dict = {}
            transitions: list[str] = []
            seen: list[tuple[int, float, float, float]] = []
            try:
                for minute in range(10):
                    if minute == 3:
                        redis_server.stop()  # SIGKILL, mid-run
                    if minute == 6:
                        redis_server.start()  # same port, empty
                    codes = _traffic(c, minute)
                    assert all(200 <= code < 300 for code in codes), codes
                    clock.advance(60)
                    cycle = scraper.cycle(clock.now())
                    assert all(h.up for h in cycle.health), cycle.health
                    seen.append((minute, cycle.values.get("l2_error_rate", -1.0),
                                 cycle.values.get("l2_hit_rate", -1.0),
                                 cycle.values.get("error_rate", -1.0)))
                    store.write(cycle.points())
                    states, changes = evaluate([RULE], clock.now(), store_query(store), states)
                    transitions += [t.new for t in changes]
            finally:
                scraper.close()
                store.close()
    by_minute = {m: (err, hit, e5) for m, err, hit, e5 in seen}
    for m in (1, 2, 7, 8, 9):  # L2 healthy: no errors, shared hits
        assert by_minute[m][0] == 0 and by_minute[m][1] > 0, seen
    for m in (3, 4, 5):  # L2 down: the lookups that reached for it failed
        assert by_minute[m][0] > 50, seen
    assert all(e5 == 0 for m, _, _, e5 in seen if m), seen  # never a 5xx (0: no rate yet)
    assert transitions == ["pending", "firing", "resolved"], (transitions, seen)
