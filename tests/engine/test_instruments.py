"""The engine's custom collector exposes the families prometheus-client would build."""

from __future__ import annotations

import json
import random
import re
import threading
from itertools import accumulate
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from engine.instruments import DB_BUCKETS, HTTP_BUCKETS, TallyCounter, make_instruments
from tests.engine.replay import replay_exposition


def _reference(name: str, label: str, bounds: tuple[float, ...],
               series: dict[str, list[float]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, "", labels=["region", label])
    les = [floatToGoString(b) for b in bounds] + ["+Inf"]
    for key, observed in sorted(series.items()):
        counts = [0] * (len(bounds) + 1)
        for seconds in observed:
            counts[next((i for i, b in enumerate(bounds) if seconds <= b), len(bounds))] += 1
        family.add_metric(["us", key], list(zip(les, accumulate(counts), strict=True)),
                          sum_value=sum(observed))
    return family


def test_histograms_match_the_library_and_stay_independent_between_scrapes():
    registry = CollectorRegistry()
    inst = make_instruments(registry, "us", enabled=True, slow_query_ms=50)
    queries = {"persona_by_id": [0.0004, 0.002, 0.3], "session_insert": [2.0]}
    for query, observed in queries.items():
        for seconds in observed:
            inst.db_query(query, seconds)
    first = {f.name: f for f in registry.collect()}["ion_db_query_duration_seconds"]
    want = _reference("ion_db_query_duration_seconds", "query", DB_BUCKETS, queries)
    assert [(s.name, s.labels, s.value) for s in first.samples] == \
        [(s.name, s.labels, s.value) for s in want.samples]

    inst.db_query("persona_by_id", 0.0004)  # a later scrape must not change the first
    second = {f.name: f for f in registry.collect()}["ion_db_query_duration_seconds"]
    counts = {(s.name, s.labels.get("query"), s.labels.get("le")): s.value
              for s in second.samples}
    assert counts[("ion_db_query_duration_seconds_count", "persona_by_id", None)] == 4
    assert [(s.name, s.labels, s.value) for s in first.samples] == \
        [(s.name, s.labels, s.value) for s in want.samples]
    assert 'le="+Inf"' in generate_latest(registry).decode()


def test_request_histogram_matches_the_library():
    registry = CollectorRegistry()
    inst = make_instruments(registry, "us", enabled=True, slow_query_ms=50)
    endpoints = {"/v2/route": [0.004, 0.05, 0.051, 3.0], "/v2/recommend": [0.02]}
    for endpoint, observed in endpoints.items():
        for seconds in observed:
            inst.request_started()
            inst.request_finished(endpoint, 200, seconds, 0.0)
    family = {f.name: f for f in registry.collect()}["ion_http_request_duration_seconds"]
    want = _reference("ion_http_request_duration_seconds", "endpoint", HTTP_BUCKETS, endpoints)
    assert [(s.name, s.labels, s.value) for s in family.samples] == \
        [(s.name, s.labels, s.value) for s in want.samples]


def _series(registry: CollectorRegistry, skip: tuple[str, ...] = ("_created",)
            ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in registry.collect() for s in family.samples
            if not s.name.endswith(skip)}


def _calls(n: int) -> list[tuple[str, tuple[object, ...]]]:
    """A seeded mix of every recording call, long enough to cross the fold threshold."""
    rng = random.Random(7)
    endpoints = ["/v2/route", "/v2/recommend", "unmatched"]
    out: list[tuple[str, tuple[object, ...]]] = []
    for _ in range(n):
        out.append(("request_started", ()))
        out.append(("cache_hit" if rng.random() < 0.6 else "cache_miss",
                    (rng.choice(["l1", "l2"]),)))
        out.append(("router_decision", (rng.choice(["coach", "mentor"]),)))
        out.append(("builder_call", (rng.choice(["coach", "mentor"]),)))
        if rng.random() < 0.1:
            out.append(("builder_error", ("coach",)))
        if rng.random() < 0.5:
            out.append(("db_query", (rng.choice(["get_session", "replicate"]),
                                     rng.expovariate(500))))
            out.append(("pool_busy", (rng.expovariate(400),)))
        if rng.random() < 0.02:
            out.append(("cache_error", ("l2",)))
            out.append(("db_error", ()))
        if rng.random() < 0.05:
            out.append(("cache_evictions", ("l1", rng.randint(1, 3))))
        out.append(("request_finished", (rng.choice(endpoints), rng.choice([200, 200, 404, 500]),
                                         rng.expovariate(30), rng.expovariate(5000))))
    return out


class _LibraryInstruments:
    """The same calls recorded through prometheus-client's own Counter and Histogram."""

    def __init__(self, registry: CollectorRegistry, slow_s: float) -> None:
        def counter(name: str, *labels: str) -> Counter:
            return Counter(name, "", ["region", *labels], registry=registry)

        self.slow_s = slow_s
        self.requests = counter("ion_http_requests", "endpoint", "code")
        self.durations = Histogram("ion_http_request_duration_seconds", "",
                                   ["region", "endpoint"], buckets=HTTP_BUCKETS,
                                   registry=registry)
        self.db = Histogram("ion_db_query_duration_seconds", "", ["region", "query"],
                            buckets=DB_BUCKETS, registry=registry)
        self.by = {family: counter(f"ion_{family}", label) for family, label in (
            ("builder_calls", "builder"), ("builder_errors", "builder"),
            ("router_decisions", "persona"), ("cache_hits", "tier"), ("cache_misses", "tier"),
            ("cache_evictions", "tier"), ("cache_errors", "tier"))}
        self.slow = counter("ion_db_slow_queries")
        self.db_errors = counter("ion_db_errors")
        self.busy = counter("ion_db_pool_busy_seconds")
        self.cpu = counter("ion_cpu_seconds")
        for b in ("analyst", "coach", "creative", "mentor"):
            self.by["builder_calls"].labels("us", b)
            self.by["builder_errors"].labels("us", b)
        for p in ("analyst", "coach", "creative", "mentor"):
            self.by["router_decisions"].labels("us", p)
        for family in ("cache_hits", "cache_misses", "cache_evictions", "cache_errors"):
            for tier in ("l1", "l2"):
                self.by[family].labels("us", tier)
        for c in (self.slow, self.db_errors, self.busy, self.cpu):
            c.labels("us")

    def record(self, call: str, args: tuple) -> None:  # type: ignore[type-arg]
        families = {"builder_call": "builder_calls", "builder_error": "builder_errors",
                    "router_decision": "router_decisions", "cache_hit": "cache_hits",
                    "cache_miss": "cache_misses", "cache_error": "cache_errors"}
        if call in families:
            self.by[families[call]].labels("us", args[0]).inc()
        elif call == "cache_evictions":
            self.by["cache_evictions"].labels("us", args[0]).inc(args[1])
        elif call == "request_finished":
            endpoint, code, seconds, cpu = args
            self.requests.labels("us", endpoint, str(code)).inc()
            self.durations.labels("us", endpoint).observe(seconds)
            self.cpu.labels("us").inc(cpu)
        elif call == "db_query":
            self.db.labels("us", args[0]).observe(args[1])
            if args[1] > self.slow_s:
                self.slow.labels("us").inc()
        elif call == "db_error":
            self.db_errors.labels("us").inc()
        elif call == "pool_busy":
            self.busy.labels("us").inc(args[0])


def test_counters_and_histograms_equal_prometheus_clients_for_the_same_calls():
    ours, lib = CollectorRegistry(), CollectorRegistry()
    inst = make_instruments(ours, "us", enabled=True, slow_query_ms=5)
    inst.declare(("analyst", "coach", "creative", "mentor"),
                 ("analyst", "coach", "creative", "mentor"))
    for tier in ("l1", "l2"):
        inst.watch_cache(tier, lambda: 0.0, lambda: 0.0)
    reference = _LibraryInstruments(lib, 0.005)
    calls = _calls(5_000)  # more requests than are buffered before a fold
    for i, (call, args) in enumerate(calls):
        getattr(inst, call)(*args)
        reference.record(call, args)
        if i == len(calls) // 3:
            assert _series(ours)  # a scrape midway folds early; later calls still count
    mine = {k: v for k, v in _series(ours).items() if k[0] in
            {name for name, _ in _series(lib)}}
    want = _series(lib)
    assert mine == want  # exact: sums are added in the order the calls were made
    in_flight = ours.get_sample_value("ion_http_requests_in_flight", {"region": "us"})
    assert in_flight == 0.0
    inst.request_started()
    assert ours.get_sample_value("ion_http_requests_in_flight", {"region": "us"}) == 1.0


def test_concurrent_recording_loses_no_update():
    registry = CollectorRegistry()
    inst = make_instruments(registry, "us", enabled=True, slow_query_ms=50)
    hit = inst.counter("cache_hits", "l1")

    def work() -> None:
        for _ in range(20_000):
            hit()
            inst.request_started()
            inst.request_finished("/v2/route", 200, 0.001, 0.0)
            inst.pool_busy(0.5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    get = registry.get_sample_value
    assert get("ion_cache_hits_total", {"region": "us", "tier": "l1"}) == 80_000
    assert get("ion_http_requests_total",
               {"region": "us", "endpoint": "/v2/route", "code": "200"}) == 80_000
    assert get("ion_db_pool_busy_seconds_total", {"region": "us"}) == 40_000
    assert get("ion_http_requests_in_flight", {"region": "us"}) == 0


def test_an_unknown_counter_family_is_refused_by_name():
    inst = make_instruments(CollectorRegistry(), "us", enabled=True, slow_query_ms=50)
    with pytest.raises(ValueError, match="unknown counter family 'cache_hit'"):
        inst.counter("cache_hit", "l1")


def test_tally_counter_exposes_what_a_library_counter_does():
    ours, lib = CollectorRegistry(), CollectorRegistry()
    mine = TallyCounter("ion_edge_requests", "Requests", ("region", "code"), ours)
    want = Counter("ion_edge_requests_total", "Requests", ["region", "code"], registry=lib)
    for region, code in [("us", "200"), ("eu", "503"), ("us", "200"), ("asia", "404")]:
        mine.child(region, code)()
        want.labels(region, code).inc()

    def text(registry: CollectorRegistry) -> str:
        return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 T", generate_latest(registry).decode())

    assert text(ours) == text(lib)
    with pytest.raises(ValueError, match="expected labels"):
        mine.child("us")


def test_a_seeded_replay_exposes_the_recorded_series():
    # Recorded from the engine before its instruments went lock-free and buffered.
    recorded = json.loads((Path(__file__).parent / "fixtures" / "replay_series.json")
                          .read_text())
    assert replay_exposition() == recorded
