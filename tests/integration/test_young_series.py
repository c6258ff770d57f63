"""A series born inside the rate window: the embedded rate equals Prometheus's ``rate()``.

Counters born mid-window (with their first events, or at zero), a counter that resets,
and a continuous one are written as OpenMetrics, turned into blocks by promtool and
served by a real Prometheus; ``rate(c_total[5m])`` at every minute is compared with the
embedded derivation over the same scrapes, chained as the scraper chains them.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from collectors.base import Sample
from monitoring.app.promconfig import create_blocks
from monitoring.expr import Rate, Selector, Snapshot, label_key
from tests.servers import PrometheusServer, require_binary

STEP_S = 60
WINDOW = 5  # scrapes: rate(x[5m])
MINUTES = 40
# Values per minute; None: not exposed yet.
SERIES: dict[str, list[float | None]] = {
    "steady": [float(7 * i) for i in range(MINUTES)],
    "born_with_events": [None] * 12 + [3.0 + 2 * i for i in range(MINUTES - 12)],
    "born_at_zero": [None] * 17 + [float(5 * i) for i in range(MINUTES - 17)],
    "born_busy": [None] * 20 + [40.0 + i for i in range(MINUTES - 20)],
    "resets": [float((i % 9) * 4) for i in range(MINUTES)],
}


class _Prometheus(PrometheusServer):
    def _flags(self) -> list[str]:
        return [*super()._flags(), "--storage.tsdb.retention.time=3650d"]


def _openmetrics(start: int) -> str:
    lines = ["# TYPE c counter"]
    for name, values in SERIES.items():
        lines += [f'c_total{{s="{name}"}} {v:g} {start + i * STEP_S}'
                  for i, v in enumerate(values) if v is not None]
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Prometheus, int]]:
    require_binary("prometheus")
    require_binary("promtool")
    start = int(time.time()) // 3600 * 3600 - 3 * 3600
    path = tmp_path_factory.mktemp("young") / "c.om"
    path.write_text(_openmetrics(start))
    server = _Prometheus("global: {scrape_interval: 1m}\n")
    try:
        create_blocks(path, server.dir / "tsdb")
        server.start()
        yield server, start
    finally:
        server.close()


def _rate_in_prometheus(server: _Prometheus, at: int) -> dict[str, float]:
    query = urllib.parse.urlencode({"query": "rate(c_total[5m])", "time": str(at)})
    with urllib.request.urlopen(f"{server.url}/api/v1/query?{query}", timeout=10) as resp:
        result = json.load(resp)["data"]["result"]
    return {r["metric"]["s"]: float(r["value"][1]) for r in result}


def test_embedded_rate_equals_prometheus_rate_for_young_series(
        prometheus: tuple[_Prometheus, int]) -> None:
    server, start = prometheus
    snaps: list[Snapshot] = []
    compared = young = 0
    for i in range(MINUTES):
        ts = float(start + i * STEP_S)
        rows = [Sample("c_total", {"s": name}, v, ts)
                for name, vs in SERIES.items() if (v := vs[i]) is not None]
        cur = Snapshot(ts, rows, previous=snaps[-1] if snaps else None)
        snaps.append(cur)
        if i < WINDOW:
            continue
        embedded = {dict(k)["s"]: v for k, v in
                    Rate(Selector("c_total")).evaluate(snaps[-1 - WINDOW], cur).items()}
        theirs = _rate_in_prometheus(server, int(ts))
        assert embedded.keys() == theirs.keys(), f"minute {i}"
        for name, value in theirs.items():
            assert embedded[name] == pytest.approx(value, rel=1e-9, abs=1e-12), \
                f"{name} at minute {i}"
            compared += 1
            young += label_key({"s": name}) not in dict(
                Selector("c_total").select(snaps[-1 - WINDOW]))
    assert young >= 12 and compared > 100  # the young windows were really exercised
