"""The engine's custom collector exposes the families prometheus-client would build."""

from __future__ import annotations

from itertools import accumulate

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from engine.instruments import DB_BUCKETS, HTTP_BUCKETS, make_instruments


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
