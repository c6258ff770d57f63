"""The Accept header Prometheus sends, and the parser chosen by the Content-Type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collectors.exposition import ExpositionCollector
from collectors.negotiate import ACCEPT, OPENMETRICS, TEXT, format_for
from tests.collectors.clock import FixedClock
from tests.collectors.loopback import PayloadServer, payload_server

# Valid in both grammars, read differently: OpenMetrics timestamps are seconds,
# text 0.0.4 timestamps milliseconds.
BOTH = b"# TYPE a gauge\na 1 1700000000\n# EOF\n"
OM = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@pytest.fixture(scope="module")
def server() -> Iterator[PayloadServer]:
    with payload_server() as s:
        yield s


def test_accept_prefers_openmetrics_then_text_with_q_values(server: PayloadServer) -> None:
    server.serve(BOTH, OM)
    ExpositionCollector("svc", server.url, FixedClock()).collect()
    sent = server.requests[-1]
    assert sent["Accept"] == ACCEPT
    assert ACCEPT.index("application/openmetrics-text;version=1.0.0") \
        < ACCEPT.index("text/plain;version=0.0.4;q=0.5") < ACCEPT.index("*/*;q=0.1")
    assert sent["Accept-Encoding"] == "gzip"


@pytest.mark.parametrize(("content_type", "fmt", "ts", "how"), [
    ("application/openmetrics-text; version=1.0.0; charset=utf-8", OPENMETRICS,
     1_700_000_000.0, "read as OpenMetrics 1.0.0"),
    ("text/plain; version=0.0.4", TEXT, 1_700_000.0, "read as text 0.0.4 (Content-Type"),
    (None, TEXT, 1_700_000.0, "read as text 0.0.4 (no Content-Type"),
    ("application/json", TEXT, 1_700_000.0, "read as text 0.0.4 (unknown Content-Type"),
])
def test_content_type_picks_the_parser(server: PayloadServer, content_type: str | None,
                                       fmt, ts: float, how: str) -> None:
    assert format_for(content_type)[0] is fmt
    server.serve(BOTH, content_type)
    result = ExpositionCollector("svc", server.url, FixedClock()).collect()
    assert result.up and (result.reason or "").startswith(how)
    (sample,) = [s for s in result.samples if s.name == "a"]
    assert sample.value == 1.0 and sample.ts == ts  # the payload's own timestamp is kept


def test_openmetrics_without_eof_fails_whole_naming_why(server: PayloadServer) -> None:
    server.serve(b"# TYPE a gauge\na 1\n", OM)
    result = ExpositionCollector("svc", server.url, FixedClock()).collect()
    assert not result.up and "line 2: no '# EOF' at the end" in (result.reason or "")
    assert "read as OpenMetrics 1.0.0" in (result.reason or "")


def test_samples_without_a_timestamp_get_the_scrape_time(server: PayloadServer) -> None:
    server.serve(b"a 1\n", "text/plain; version=0.0.4")
    result = ExpositionCollector("svc", server.url, FixedClock(42.0)).collect()
    assert {s.ts for s in result.samples} == {42.0}
