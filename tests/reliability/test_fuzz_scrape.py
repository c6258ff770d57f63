"""Fuzz the scrape path: exposition text → samples → the scraper's derivations.

Generated payloads mix valid engine series (so the derivations run on them) with
garbage: binary bytes, NaN/±Inf, huge values, hostile label values, bad ``le``
bounds, duplicate series and oversized bodies. The properties: nothing raises but
``ExpositionError`` (whose message names the line), a rejected sample says why,
every valid sample of a clean payload is kept, and memory stays bounded.
"""

from __future__ import annotations

import gc
import math
import threading
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import ScrapeResult
from collectors.exposition import ExpositionCollector, ExpositionError, parse_exposition
from collectors.families import format_series
from collectors.limits import ScrapeLimits
from monitoring.catalog import CATALOG
from monitoring.clock import VirtualClock
from monitoring.scrape import Scraper

PAYLOADS = 10_000
NAMES = ("ion_http_requests_total", "ion_http_request_duration_seconds_bucket",
         "ion_http_request_duration_seconds_count", "ion_cache_hits_total",
         "ion_cache_misses_total", "ion_cache_items", "ion_db_query_duration_seconds_bucket",
         "ion_builder_calls_total", "ion_builder_errors_total", "ion_edge_requests_total",
         "ion_db_replication_lag_seconds", "process_resident_memory_bytes", "up", "x")
LABEL_NAMES = ("region", "code", "le", "tier", "builder", "target", "persona")
HOSTILE = ("<script>alert(1)</script>", 'a"b', "line\nbreak", "| pipe |", "\\", "${x}",
           "\x00", "é✓", "", "+Inf", "0.5", "abc", "NaN", "-1")
VALUES = ("1", "0", "-1", "NaN", "+Inf", "-Inf", "1e308", "1e999", "-0", "3.5", "1e-320",
          "12345678901234567890", "0x1F", "one", "", "1_0")

_count = 0


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line_text(name: str, labels: dict[str, str], value: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value}" if inner else f"{name} {value}"


# Strategies built once at import: building them inside a draw costs more than the check.
_label_value = st.sampled_from(HOSTILE) | st.text(max_size=8)
_sample_line = st.builds(
    _line_text, st.sampled_from(NAMES),
    st.dictionaries(st.sampled_from(LABEL_NAMES), _label_value, max_size=3),
    st.sampled_from(VALUES) | st.floats().map(repr))


_TYPES = st.sampled_from(("counter", "gauge", "histogram", "summary", "untyped", "bogus"))
_meta = st.builds(lambda n, t: f"# TYPE {n} {t}", st.sampled_from(NAMES), _TYPES) | \
    st.builds(lambda n, h: f"# HELP {n} {h}", st.sampled_from(NAMES), st.text(max_size=20))
_line = _sample_line | _meta | st.text(max_size=40) | st.just("")
_structured = st.lists(_line, max_size=12).flatmap(
    # Duplicate series: repeat a slice of the payload.
    lambda lines: st.integers(0, len(lines)).map(lambda k: "\n".join(lines + lines[:k]) + "\n"))
_binary = st.binary(max_size=512).map(lambda b: b.decode("latin-1"))


def _huge(n: int) -> str:
    """Big, with every kind of line: histograms, NaN, duplicates and a bad line last."""
    rows = [f'ion_http_request_duration_seconds_bucket{{region="r{i % 50}",le="{le}"}} {i}\n'
            for i in range(n) for le in ("0.1", "1", "+Inf")]
    rows += [f"ion_cache_items{{i=\"{i}\"}} NaN\n" for i in range(n)]
    rows += rows[: n // 10]
    if n % 2:
        rows.append("ion_cache_items{ 1\n")
    return "".join(rows)
PAYLOAD = st.one_of(_structured, _structured, _structured, _binary, st.text(max_size=100))
HUGE_PAYLOADS = 12  # each 20k+ lines, checked outside hypothesis (each takes a while)


class _Fixed:
    """A collector whose result is one parsed payload (the scraper sees only results)."""

    def __init__(self, result: ScrapeResult) -> None:
        self.target = result.target
        self.result = result

    def collect(self) -> ScrapeResult:
        return self.result


def _check(text: str) -> None:
    global _count
    _count += 1
    try:
        samples, rejected = parse_exposition(text, 1000.0, {"target": "us"})
    except ExpositionError as exc:
        assert str(exc).startswith("line "), exc  # the reason names the line
        return
    assert all(r.startswith(("duplicate series ", "bucket with a non-numeric le", "line "))
               for r in rejected), rejected
    keys = [(s.name, tuple(sorted(s.labels.items()))) for s in samples]
    assert len(keys) == len(set(keys)), "a duplicate series was kept"
    for s in samples:
        assert isinstance(s.value, float) and s.ts == 1000.0 and s.labels["target"] == "us"
    # The good samples go on through the derivations: two cycles make every rate.
    scraper = Scraper([])
    for ts in (1000.0, 1060.0):
        res = ScrapeResult("us", ts, True, 0.0, tuple(s.__class__(s.name, s.labels, s.value
                                                                   + (ts - 1000), ts)
                                                      for s in samples))
        scraper.collectors = [_Fixed(res)]
        cycle = scraper.cycle(ts)
    assert set(cycle.values) <= set(CATALOG)
    assert all(isinstance(v, float) and not math.isnan(v) for v in cycle.values.values())


@settings(max_examples=PAYLOADS, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(PAYLOAD)
def _fuzz(text: str) -> None:
    _check(text)


@pytest.mark.slow
def test_fuzz_scrape_path_survives_10000_payloads():
    before = _count
    _fuzz()
    for i in range(HUGE_PAYLOADS):
        _check(_huge(5_000 + i))
    assert _count - before >= PAYLOADS + HUGE_PAYLOADS


def test_clean_payload_keeps_every_good_sample_and_rejects_duplicates():
    lines = [f'ion_cache_items{{tier="l{i}",persona="{_escape(h)}"}} {i}'
             for i, h in enumerate(HOSTILE)]
    text = "\n".join([*lines, lines[0], lines[3]]) + "\nion_cache_misses_total NaN\n" \
        "ion_cache_hits_total +Inf\n"
    samples, rejected = parse_exposition(text, 5.0)
    assert len(samples) == len(HOSTILE) + 2
    assert sorted(s.labels.get("persona") for s in samples[:len(HOSTILE)]) == sorted(HOSTILE)
    assert math.isnan(samples[-2].value) and samples[-1].value == math.inf
    assert rejected == [f"duplicate series {format_series('ion_cache_items', samples[0].labels)}",
                        f"duplicate series {format_series('ion_cache_items', samples[3].labels)}"]


def test_parse_memory_is_bounded_and_does_not_grow():
    """Parsing a 1.5 MB payload peaks at a small multiple of it; 300 cycles leak nothing."""
    big = "".join(f'ion_cache_items{{tier="l1",i="{i}"}} {i}\n' for i in range(40_000))
    small = "".join(f'ion_http_requests_total{{code="200",region="r{i}"}} {i}\n'
                    for i in range(200))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        samples, _ = parse_exposition(big, 0.0)
        peak = tracemalloc.get_traced_memory()[1] - base
        assert len(samples) == 40_000
        del samples
        assert peak < 40 * len(big), f"peak {peak / 2**20:.0f} MB for {len(big) / 2**20:.0f} MB"
        scraper = Scraper([], window_scrapes=5)
        levels = []
        for i in range(300):
            samples, _ = parse_exposition(small, float(i))
            scraper.collectors = [_Fixed(ScrapeResult("us", float(i), True, 0.0,
                                                      tuple(samples)))]
            scraper.cycle(float(i))
            if i in (50, 299):
                gc.collect()
                levels.append(tracemalloc.get_traced_memory()[0])
        assert levels[1] - levels[0] < 1 * 2**20, f"grew {levels[1] - levels[0]} bytes"
    finally:
        tracemalloc.stop()


class _Body(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.server.body)))  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.write(self.server.body)  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


def test_collector_over_http_rejects_binary_and_oversized_bodies_with_a_reason():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Body)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    collector = ExpositionCollector("us", url, VirtualClock(0.0), timeout_s=2,
                                     limits=ScrapeLimits(body_size_limit=4096))
    try:
        @settings(max_examples=200, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(st.binary(max_size=6000))
        def over_http(body: bytes) -> None:
            server.body = body  # type: ignore[attr-defined]
            r = collector.collect()
            if not r.up:
                assert r.reason and r.reason.startswith("us (")
                assert [s.name for s in r.samples] == ["up", "scrape_duration_seconds"]
            if len(body) > 4096:
                assert not r.up
                assert "body_size_limit exceeded: body over 4096 bytes" in (r.reason or "")

        over_http()
        server.body = b"\xff\xfe ion_cache_items 1\n"  # type: ignore[attr-defined]
        r = collector.collect()
        assert not r.up and "not UTF-8" in (r.reason or "")
    finally:
        server.shutdown()
        server.server_close()
