"""Each scrape limit of Prometheus's scrape_config: a scrape at the limit is taken,
one past it fails whole with ``up`` 0 and the limit named; gzip counts decompressed."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from collectors.base import ScrapeResult
from collectors.exposition import ExpositionCollector
from collectors.limits import ScrapeLimits
from monitoring.app.config import load_config
from monitoring.config import ConfigError, TargetConfig
from tests.collectors.clock import FixedClock
from tests.collectors.loopback import PayloadServer, payload_server

TEXT = "text/plain; version=0.0.4"
THREE = b'a{x="1"} 1\na{x="2"} 2\na{x="3"} 3\n'


@pytest.fixture(scope="module")
def server() -> Iterator[PayloadServer]:
    with payload_server() as s:
        yield s


def _scrape(server: PayloadServer, body: bytes, limits: ScrapeLimits, **headers: str
            ) -> ScrapeResult:
    server.serve(body, TEXT, **headers)
    return ExpositionCollector("svc", server.url, FixedClock(), limits=limits).collect()


def _taken(result: ScrapeResult) -> int:
    assert result.up, result.reason
    return sum(s.name == "a" for s in result.samples)


def _refused(result: ScrapeResult, what: str) -> None:
    assert not result.up and what in (result.reason or "")
    assert [s.name for s in result.samples] == ["up", "scrape_duration_seconds"]


def test_defaults_are_prometheus_s_no_limit() -> None:
    assert ScrapeLimits() == ScrapeLimits(0, 0, 0, 0, 0)
    assert TargetConfig(name="t", kind="exposition", url="http://x/m").limits() == ScrapeLimits()


def test_sample_limit(server: PayloadServer) -> None:
    assert _taken(_scrape(server, THREE, ScrapeLimits(sample_limit=3))) == 3
    _refused(_scrape(server, THREE, ScrapeLimits(sample_limit=2)),
             "sample_limit exceeded: 3 samples, limit 2")


def test_label_limit_counts_the_name(server: PayloadServer) -> None:
    body = b'a{x="1",y="2"} 1\n'  # __name__, x, y
    assert _taken(_scrape(server, body, ScrapeLimits(label_limit=3))) == 1
    _refused(_scrape(server, body, ScrapeLimits(label_limit=2)),
             "label_limit exceeded: a has 3 labels, limit 2")


def test_label_name_length_limit(server: PayloadServer) -> None:
    body = b'a{abcde="1"} 1\n'
    assert _taken(_scrape(server, body, ScrapeLimits(label_name_length_limit=8))) == 1
    _refused(_scrape(server, body, ScrapeLimits(label_name_length_limit=7)),
             "label_name_length_limit exceeded: label '__name__' of a is 8 bytes, limit 7")


def test_label_value_length_limit_in_bytes(server: PayloadServer) -> None:
    body = 'a{city="Z\u00fcrich"} 1\n'.encode()  # 7 bytes in UTF-8
    assert _taken(_scrape(server, body, ScrapeLimits(label_value_length_limit=7))) == 1
    _refused(_scrape(server, body, ScrapeLimits(label_value_length_limit=6)),
             "label_value_length_limit exceeded: city='Zürich' of a is 7 bytes, limit 6")


def test_body_size_limit(server: PayloadServer) -> None:
    assert _taken(_scrape(server, THREE, ScrapeLimits(body_size_limit=len(THREE)))) == 3
    _refused(_scrape(server, THREE, ScrapeLimits(body_size_limit=len(THREE) - 1)),
             f"body_size_limit exceeded: body over {len(THREE) - 1} bytes")


def test_gzip_body_is_limited_once_decompressed(server: PayloadServer) -> None:
    body = b"".join(f'a{{x="{i}"}} {i}\n'.encode() for i in range(20_000))
    packed = gzip.compress(body)
    assert len(packed) < len(body) // 2
    limits = ScrapeLimits(body_size_limit=len(body))
    assert _taken(_scrape(server, packed, limits, **{"Content-Encoding": "gzip"})) == 20_000
    # Small on the wire, over the limit once inflated: refused.
    _refused(_scrape(server, packed, ScrapeLimits(body_size_limit=len(body) - 1),
                     **{"Content-Encoding": "gzip"}), "body_size_limit exceeded")


def test_limits_are_read_per_target_from_config(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("scrape:\n  targets:\n    - {name: svc, kind: exposition, url: 'http://h/m',"
                    " body_size_limit: 1MiB, sample_limit: 500, label_limit: 30,"
                    " label_name_length_limit: 200, label_value_length_limit: 2048}\n")
    (target,) = load_config(path).scrape.targets
    assert target.limits() == ScrapeLimits(1 << 20, 500, 30, 200, 2048)
    path.write_text("scrape:\n  targets:\n    - {name: svc, kind: exposition, url: 'http://h/m',"
                    " sample_limit: -1}\n")
    with pytest.raises(ConfigError, match="sample_limit"):
        load_config(path)
    path.write_text("scrape:\n  targets:\n    - {name: db, kind: sqlite, url: x.db,"
                    " sample_limit: 5}\n")
    with pytest.raises(ConfigError, match="exposition targets only"):
        load_config(path)


@pytest.mark.parametrize(("text", "size"), [("10MB", 10 << 20), ("10MiB", 10 << 20),
                                            ("512", 512), ("1KB", 1024), ("2GB", 2 << 30)])
def test_body_size_limit_reads_sizes_as_prometheus_does(tmp_path, text, size) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("scrape:\n  targets:\n    - {name: svc, kind: exposition, url: 'http://h/m',"
                    f" body_size_limit: '{text}'}}\n")
    (target,) = load_config(path).scrape.targets
    assert target.limits().body_size_limit == size


def test_a_bad_size_names_the_key(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("scrape:\n  targets:\n    - {name: svc, kind: exposition, url: 'http://h/m',"
                    " body_size_limit: 10XB}\n")
    with pytest.raises(ConfigError, match=r"body_size_limit.*10XB"):
        load_config(path)
