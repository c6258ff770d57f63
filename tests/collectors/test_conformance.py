"""Every OpenMetrics parser test case, and text 0.0.4 cases, scraped as a user would.

Each payload is served over loopback with its Content-Type and scraped by an
``exposition`` target built from config the way ``ionmon`` builds it. A valid case
must be taken with exactly the samples prometheus-client's parser gives; an invalid
one must be rejected (the scrape fails, or the bad family is dropped) with a reason
naming the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families as text_parse

from collectors.base import ScrapeResult
from collectors.families import families_to_samples
from monitoring.app.targets import extra_collector
from monitoring.config import TargetConfig
from tests.collectors.clock import FixedClock
from tests.collectors.loopback import PayloadServer, payload_server
from tests.servers import skip_or_fail

SUITE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "openmetrics" / "parsers"
TEXT_CASES = Path(__file__).parent.parent / "fixtures" / "text_0_0_4"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4; charset=utf-8"
LINE = re.compile(r"\bline \d+\b")


def _cases(root: Path) -> list[tuple[str, bytes, bool]]:
    if not root.is_dir():
        return []
    out = []
    for case in sorted(root.iterdir()):
        meta = json.loads((case / "test.json").read_text())
        out.append((case.name, (case / meta.get("file", "metrics")).read_bytes(),
                    bool(meta["shouldParse"])))
    return out


OM_CASES = _cases(SUITE)
TX_CASES = _cases(TEXT_CASES)


@pytest.fixture(scope="module")
def server() -> Iterator[PayloadServer]:
    with payload_server() as s:
        yield s


def _scrape(server: PayloadServer, body: bytes, content_type: str) -> ScrapeResult:
    server.serve(body, content_type)
    target = TargetConfig(name="svc", kind="exposition", url=server.url)
    return extra_collector(target, FixedClock(), 5.0).collect()


def _series(result: ScrapeResult) -> list[tuple]:
    return sorted((s.name, tuple(sorted(s.labels.items())), repr(s.value), s.ts)
                  for s in result.samples if s.name not in ("up", "scrape_duration_seconds"))


def _expected(body: bytes, parse) -> list[tuple]:
    # What Prometheus stores: the parser's series with the target's labels attached.
    samples, rejected = families_to_samples(list(parse(body.decode())), FixedClock().now(),
                                            {"job": "svc", "target": "svc"})
    assert rejected == []
    return sorted((s.name, tuple(sorted(s.labels.items())), repr(s.value), s.ts)
                  for s in samples)


def _assert_rejected(name: str, result: ScrapeResult) -> None:
    reasons = list(result.rejected) if result.up else [result.reason or ""]
    assert reasons, f"{name}: invalid case taken silently: {_series(result)}"
    assert all(LINE.search(r) for r in reasons), f"{name}: no line named in {reasons}"


def test_the_suite_is_all_there() -> None:
    if not OM_CASES:
        skip_or_fail(f"OpenMetrics suite not found at {SUITE} (../shared beside the repo)")
    assert len(OM_CASES) == 211
    assert sum(ok for _, _, ok in OM_CASES) == 44


FORMATS = {"openmetrics": (OPENMETRICS, om_parse, "read as OpenMetrics 1.0.0"),
           "text": (TEXT, text_parse, "read as text 0.0.4")}
ALL_CASES = [("openmetrics", *c) for c in OM_CASES] + [("text", *c) for c in TX_CASES]


@pytest.mark.parametrize(("fmt", "name", "body", "valid"), ALL_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in ALL_CASES])
def test_case(server: PayloadServer, fmt: str, name: str, body: bytes, valid: bool) -> None:
    content_type, parse, how = FORMATS[fmt]
    result = _scrape(server, body, content_type)
    if valid:
        assert result.up, f"{name}: {result.reason}"
        assert result.rejected == ()
        assert result.reason is not None and result.reason.startswith(how)
        assert _series(result) == _expected(body, parse)
    else:
        _assert_rejected(name, result)


def test_text_cases_cover_both_outcomes() -> None:
    assert sum(ok for *_, ok in TX_CASES) >= 10
    assert sum(not ok for *_, ok in TX_CASES) >= 15
