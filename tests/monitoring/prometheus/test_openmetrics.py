"""The OpenMetrics writer: literal samples in, text promtool and client_python accept out."""

import gzip
import io
import json

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from collectors.base import Sample, ScrapeResult
from monitoring.app.promconfig import create_blocks
from monitoring.catalog import FAULT_SERIES
from monitoring.groundtruth import FaultRecord
from monitoring.openmetrics import FAULT_HELP, UNREAD_HELP, OpenMetricsRecorder, write_file
from tests.servers import require_binary


def _scrape(target: str, ts: float, requests: float, fast: float, slow: float,
            lag: float) -> ScrapeResult:
    le = {"region": target}
    samples = (
        Sample("ion_http_requests_total", {"code": "200", **le}, requests, ts),
        Sample("ion_latency_seconds_bucket", {"le": "0.1", **le}, fast, ts),
        Sample("ion_latency_seconds_bucket", {"le": "+Inf", **le}, fast + slow, ts),
        Sample("ion_latency_seconds_count", le, fast + slow, ts),
        Sample("ion_latency_seconds_sum", le, 0.05 * fast + 0.5 * slow, ts),
        Sample("ion_lag_seconds", le, lag, ts),
        Sample("up", {"target": target}, 1.0, ts),
    )
    return ScrapeResult(target, ts, True, 0.001, samples)


def _text(recorder: OpenMetricsRecorder) -> str:
    out = io.StringIO()
    recorder.write(out)
    return out.getvalue()


def test_families_are_typed_grouped_and_end_with_eof():
    rec = OpenMetricsRecorder({"job": "ion"})
    for i, t in enumerate((60.0, 120.0)):
        rec.add_results([_scrape("us", 1_700_000_000 + t, 10 + i, 8 + i, 2, 0.5),
                         _scrape("eu", 1_700_000_000 + t, 20 + i, 15, 5 + i, float("nan"))])
    text = _text(rec)
    lines = text.splitlines()
    assert lines[-1] == "# EOF"
    types = [line for line in lines if line.startswith("# TYPE")]
    assert types == ["# TYPE ion_http_requests counter", "# TYPE ion_lag_seconds gauge",
                     "# TYPE ion_latency_seconds histogram", "# TYPE up gauge"]
    assert ('ion_http_requests_total{code="200",job="ion",region="eu",target="eu"} 20.0 '
            "1700000060") in lines
    assert 'ion_lag_seconds{job="ion",region="eu",target="eu"} NaN 1700000060' in lines
    # One histogram point (buckets by le, then count and sum) per label set and timestamp.
    hist = [line.split("{")[0] for line in lines if line.startswith("ion_latency")]
    assert hist[:4] == ["ion_latency_seconds_bucket", "ion_latency_seconds_bucket",
                        "ion_latency_seconds_count", "ion_latency_seconds_sum"]
    assert '"+Inf"' in [line for line in lines if line.startswith("ion_latency")][1]


def test_client_python_parses_counters_and_gauges_back():
    # (Its histogram check does not follow histograms over several timestamps: promtool,
    # the real consumer, reads those in test_promtool_makes_blocks_of_it.)
    rec = OpenMetricsRecorder()
    for t in (60.0, 120.0, 180.0):
        scrape = _scrape("asia", 1_700_000_000 + t, t, t / 2, 1, 0.25)
        rec.add_samples([s for s in scrape.samples if "latency" not in s.name], "asia")
    families = {f.name: f for f in text_string_to_metric_families(_text(rec))}
    assert families["ion_http_requests"].type == "counter"
    assert families["ion_lag_seconds"].type == "gauge"
    counter = families["ion_http_requests"].samples
    assert [s.value for s in counter] == [60.0, 120.0, 180.0]
    assert [float(s.timestamp) for s in counter] == [1_700_000_060, 1_700_000_120, 1_700_000_180]
    assert all(s.labels["target"] == "asia" for s in counter)


def test_promtool_makes_blocks_of_it(tmp_path):
    require_binary("promtool")
    rec = OpenMetricsRecorder({"job": "ion"})
    for i in range(30):
        t = 1_700_000_000 + 60.0 * i
        rec.add_results([_scrape(r, t, 10 * i, 8 * i, i, 0.1) for r in ("us", "eu")])
    path = tmp_path / "export.om"
    with path.open("w") as fh:
        summary = rec.write(fh)
    assert summary.samples == 30 * 2 * 7
    blocks = create_blocks(path, tmp_path / "blocks")
    assert blocks, "promtool created no block"
    meta = json.loads((blocks[0] / "meta.json").read_text())
    assert meta["stats"]["numSamples"] == summary.samples


def test_a_repeated_instant_keeps_the_newest_and_going_back_fails():
    rec = OpenMetricsRecorder()
    rec.add_samples([Sample("g", {}, 1.0, 10.0)], target="x")
    rec.add_samples([Sample("g", {}, 2.0, 10.0)], target="x")
    assert 'g{target="x"} 2.0 10' in _text(rec)
    with pytest.raises(ValueError, match="older"):
        rec.add_samples([Sample("g", {}, 3.0, 5.0)], target="x")


def test_a_family_that_is_two_types_is_refused():
    rec = OpenMetricsRecorder()
    rec.add_samples([Sample("x_total", {}, 1.0, 1.0), Sample("x", {}, 1.0, 1.0)])
    with pytest.raises(ValueError, match=r"both a (counter|gauge) and a (gauge|counter)"):
        _text(rec)


GRID = 1_700_000_040  # a whole minute: fault points fall on the scrape grid


def _export(tmp_path, name: str) -> tuple[OpenMetricsRecorder, object]:
    rec = OpenMetricsRecorder({"job": "ion"})
    for i in range(30):
        t = 1_700_000_000 + 60.0 * i
        rec.add_results([_scrape(r, t, 10 * i, 8 * i, i, 0.1) for r in ("us", "eu")])
    rec.add_faults([FaultRecord("l2_down", "us", GRID + 250.0, GRID + 600.0),
                    FaultRecord("l2_down", "us", GRID + 900.0, GRID + 960.0)], step_s=60.0)
    return rec, write_file(rec, tmp_path / name)


def test_help_type_and_unit_from_the_catalog():
    rec = OpenMetricsRecorder()
    scrape = _scrape("us", 1_700_000_060, 5, 4, 1, 0.2)
    hist = "ion_http_request_duration_seconds"
    rec.add_samples([*scrape.samples, Sample(f"{hist}_bucket", {"le": "+Inf"}, 3.0, 1_700_000_060),
                     Sample(f"{hist}_count", {}, 3.0, 1_700_000_060),
                     Sample(f"{hist}_sum", {}, 0.1, 1_700_000_060)])
    lines = _text(rec).splitlines()
    meta = {(ln.split()[1], ln.split()[2]): " ".join(ln.split()[3:])
            for ln in lines if ln.startswith("#") and ln != "# EOF"}
    # HELP names what reads the family in the catalog, with the catalog's units.
    help_requests = meta[("HELP", "ion_http_requests")]
    assert "Request rate (req/s)" in help_requests and "Error rate (%)" in help_requests
    assert "Latency p95 (ms)" in meta[("HELP", hist)] and meta[("UNIT", hist)] == "seconds"
    assert meta[("HELP", "ion_lag_seconds")] == UNREAD_HELP
    # UNIT only where the name ends in a base unit, as OpenMetrics requires.
    assert meta[("UNIT", "ion_lag_seconds")] == "seconds"
    assert meta[("UNIT", "ion_latency_seconds")] == "seconds"
    assert ("UNIT", "ion_http_requests") not in meta and ("UNIT", "up") not in meta
    # Every family: HELP, TYPE (and UNIT) before its first sample.
    for family in ("ion_http_requests", "ion_lag_seconds", "ion_latency_seconds", "up"):
        first = next(i for i, ln in enumerate(lines) if ln.startswith(family)
                     and not ln.startswith("#"))
        assert lines.index(f"# HELP {family} {meta[('HELP', family)]}") < first
        assert any(ln.startswith(f"# TYPE {family} ") for ln in lines[:first])
    parsed = {f.name: f for f in text_string_to_metric_families(_text(rec))}
    assert parsed["ion_lag_seconds"].unit == "seconds"
    assert parsed["ion_http_requests"].documentation == help_requests


def test_faults_become_a_series_one_while_they_last(tmp_path):
    rec, _ = _export(tmp_path, "export.om")
    lines = [ln for ln in _text(rec).splitlines() if ln.startswith(FAULT_SERIES)]
    points = [(int(ln.rsplit(" ", 1)[1]) - GRID, float(ln.split()[1])) for ln in lines]
    assert points == [(300, 1.0), (360, 1.0), (420, 1.0), (480, 1.0), (540, 1.0), (600, 0.0),
                      (900, 1.0), (960, 0.0)]
    assert all('kind="l2_down"' in ln and 'target="us"' in ln and 'job="ion"' in ln
               for ln in lines)
    assert f"# HELP {FAULT_SERIES} {FAULT_HELP}" in _text(rec).splitlines()
    with pytest.raises(ValueError, match="step_s"):
        rec.add_faults([], step_s=0)


def test_a_gz_name_writes_gzip_and_promtool_reads_it(tmp_path):
    rec, summary = _export(tmp_path, "export.om.gz")
    _, plain_summary = _export(tmp_path, "export.om")
    packed, plain = tmp_path / "export.om.gz", tmp_path / "export.om"
    assert packed.read_bytes()[:2] == b"\x1f\x8b" and plain.read_bytes()[:2] != b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()).decode() == plain.read_text() == _text(rec)
    assert summary == plain_summary
    assert packed.stat().st_size * 5 < plain.stat().st_size
    assert not list(tmp_path.glob("*.partial"))
    require_binary("promtool")
    blocks = create_blocks(plain, tmp_path / "blocks")  # HELP, UNIT and faults included
    meta = json.loads((blocks[0] / "meta.json").read_text())
    assert meta["stats"]["numSamples"] == summary.samples == 30 * 2 * 7 + 8
