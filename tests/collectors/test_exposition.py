"""ExpositionCollector against a real HTTP server; parse_exposition on literal text."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from collectors.exposition import ExpositionCollector, ExpositionError, parse_exposition
from collectors.families import format_series
from collectors.limits import ScrapeLimits
from tests.collectors.clock import FixedClock, meta
from tests.servers import free_port

GOOD = (Path(__file__).parent.parent / "fixtures" / "metrics_good.txt").read_text()
MALFORMED = '# TYPE ok gauge\nok 1\nbroken{route="/x" 12\n'
SLOW_S = 2.0


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/good":
            self._send(200, GOOD.encode())
        elif self.path == "/malformed":
            self._send(200, MALFORMED.encode())
        elif self.path == "/slow":
            time.sleep(SLOW_S)
            self._send(200, GOOD.encode())
        elif self.path == "/error":
            self._send(500, b"boom")
        elif self.path == "/huge":
            # No Content-Length: the cap must hold while streaming.
            self.send_response(200)
            self.end_headers()
            line = b"big_gauge 1\n" * 1000
            with contextlib.suppress(OSError):  # the client hangs up at the cap
                for _ in range(100):
                    self.wfile.write(line)
        else:
            self._send(404, b"not found")

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up first (timeout test)
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _collector(url: str, **kw) -> ExpositionCollector:
    return ExpositionCollector("engine", url, FixedClock(), **kw)


# -- parse_exposition (pure) ----------------------------------------------------------


def test_parse_recorded_payload() -> None:
    samples, rejected = parse_exposition(GOOD, 5.0, {})
    assert rejected == []
    series = {format_series(s.name, s.labels): s.value for s in samples}
    assert series['ion_requests_total{route="/suggest",status="500"}'] == 17.0
    assert series['ion_request_duration_seconds_bucket{le="+Inf",region="eu"}'] == 1000.0
    assert series['ion_request_duration_seconds_sum{region="eu"}'] == 98.5
    assert series["ion_prompt_tokens_count"] == 52.0
    assert math.isnan(series['ion_replica_lag_seconds{replica="us-1"}'])
    (escaped,) = [s for s in samples if s.name == "ion_prompt_builder_errors_total"]
    assert escaped.labels == {"builder": 'say "hi"', "path": "C:\\ion\\tmp", "note": "line1\nline2"}
    assert not any(s.name.endswith("_created") for s in samples)
    assert {s.ts for s in samples} == {5.0}
    assert len(samples) == 18


def test_parse_then_write_round_trip() -> None:
    samples, _ = parse_exposition(GOOD, 5.0, {})
    text = "".join(f"{format_series(s.name, s.labels)} {s.value!r}\n" for s in samples)
    again, rejected = parse_exposition(text, 5.0, {})
    assert rejected == []
    assert [(s.name, dict(s.labels)) for s in again] == [(s.name, dict(s.labels)) for s in samples]
    for a, b in zip(again, samples, strict=True):
        assert a.value == b.value or (math.isnan(a.value) and math.isnan(b.value))


def test_duplicates_rejected_and_inf_kept() -> None:
    text = 'a{x="1"} 1\na{x="1"} 2\nb +Inf\nc -Inf\n'
    samples, rejected = parse_exposition(text, 0.0, {})
    assert [(s.name, s.value) for s in samples] == [("a", 1.0), ("b", math.inf), ("c", -math.inf)]
    assert rejected == ['duplicate series a{x="1"}']


def test_extra_labels_win_and_keep_the_original() -> None:
    samples, _ = parse_exposition('m{region="x"} 1\n', 0.0, {"region": "eu", "job": "ion"})
    assert dict(samples[0].labels) == {"region": "eu", "exported_region": "x", "job": "ion"}


def test_malformed_line_costs_its_family_only_and_names_the_line() -> None:
    samples, rejected = parse_exposition(MALFORMED, 0.0, {})
    assert [(s.name, s.value) for s in samples] == [("ok", 1.0)]
    assert len(rejected) == 1
    assert rejected[0].startswith("line 3: ") and rejected[0].endswith("family broken dropped")


def test_a_broken_bucket_drops_the_whole_histogram() -> None:
    text = ('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf" 2\nh_sum 3\n'
            'h_count 2\n# TYPE g gauge\ng 5\n')
    samples, rejected = parse_exposition(text, 0.0, {})
    assert [s.name for s in samples] == ["g"]  # no half histogram survives
    assert rejected == [rejected[0]] and rejected[0].startswith("line 3: ")


def test_nothing_good_left_fails_the_payload_naming_the_line() -> None:
    with pytest.raises(ExpositionError) as err:
        parse_exposition('broken{route="/x" 12\n', 0.0, {})
    assert err.value.line_no == 1
    assert "line 1" in str(err.value) and "broken" in str(err.value)


def test_too_many_broken_families_fail_the_payload() -> None:
    text = "".join(f'bad{i}{{x="1" 1\n' for i in range(30)) + "ok 1\n"
    with pytest.raises(ExpositionError, match="more broken families"):
        parse_exposition(text, 0.0, {})


# -- over HTTP ------------------------------------------------------------------------


def test_good_endpoint(http_url: str) -> None:
    result = _collector(f"{http_url}/good", extra_labels={"region": "eu"}).collect()
    assert result.up
    assert result.reason == "read as text 0.0.4 (Content-Type text/plain; version=0.0.4)"
    assert meta(result, "up") == 1.0
    assert meta(result, "scrape_duration_seconds") > 0
    assert len(result.samples) == 18 + 2
    assert all(s.labels.get("region") == "eu" for s in result.samples if s.name.startswith("ion"))


def test_malformed_endpoint_keeps_the_good_families(http_url: str) -> None:
    result = _collector(f"{http_url}/malformed").collect()
    assert result.up and meta(result, "up") == 1.0
    assert [s.name for s in result.samples if s.name == "ok"] == ["ok"]
    assert any(r.startswith("line 3: ") for r in result.rejected)


def test_slow_endpoint_times_out(http_url: str) -> None:
    started = time.perf_counter()
    result = _collector(f"{http_url}/slow", timeout_s=0.3).collect()
    assert time.perf_counter() - started < SLOW_S
    assert not result.up
    assert "timeout after 0.3s" in result.reason and f"{http_url}/slow" in result.reason


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    result = _collector(url, timeout_s=1).collect()
    assert not result.up
    assert url in result.reason and "Connection refused" in result.reason


def test_http_500(http_url: str) -> None:
    result = _collector(f"{http_url}/error").collect()
    assert not result.up and "HTTP 500" in result.reason and "/error" in result.reason


def test_oversized_body_is_cut_off(http_url: str) -> None:
    limits = ScrapeLimits(body_size_limit=100_000)
    result = _collector(f"{http_url}/huge", limits=limits).collect()
    assert not result.up
    assert "body_size_limit exceeded: body over 100000 bytes" in result.reason
    assert "/huge" in result.reason


def test_password_in_url_is_not_echoed() -> None:
    url = f"http://user:s3cret@127.0.0.1:{free_port()}/metrics"
    result = _collector(url, timeout_s=1).collect()
    assert not result.up and "s3cret" not in result.reason and "user:***@" in result.reason
