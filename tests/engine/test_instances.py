"""Several instances per region behind the edge: each its own target, one region's data."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from collectors.registry import RegistryCollector
from collectors.relabel import TargetLabels
from engine.clock import ManualClock
from engine.cluster import Cluster
from engine.config import RegionConfig
from engine.traffic import TrafficModel
from monitoring.catalog import RECORDED, get
from monitoring.expr import Snapshot
from tests.engine.conftest import START, body, small_config

REGIONS = ("us", "eu", "asia")


def _config(instances: int):
    base = small_config()
    regions = {n: r.model_copy(update={"instances": instances}) for n, r in base.regions.items()}
    return small_config(regions=regions)


def _serve_hour(cluster: Cluster, clock: ManualClock) -> int:
    reqs = TrafficModel(cluster.config).requests_for(START + 12 * 3600, START + 13 * 3600)
    clock.advance(12 * 3600)
    for r in reqs:
        clock.advance(max(0.0, r.ts - clock.now()))
        cluster.request(r.region, r.method, r.path, r.body)
    cluster.tick()
    return len(reqs)


def _snapshot(cluster: Cluster, clock: ManualClock) -> Snapshot:
    samples = []
    registries = cluster.registries
    for target, region in cluster.config.instance_regions().items():
        collector = RegistryCollector(target, lambda t=target: registries().get(t), clock)
        wrapped = collector if target == region else TargetLabels(
            collector, {"target": region, "instance": target})
        samples += wrapped.collect().samples
    samples += RegistryCollector("edge", lambda: registries()["edge"], clock).collect().samples
    return Snapshot(clock.now(), samples)


def test_instances_are_validated() -> None:
    with pytest.raises(ValidationError, match="instances"):
        RegionConfig(role="primary", network_delay_ms=1, instances=0)


def test_two_instances_per_region_share_the_requests_and_aggregate_per_region() -> None:
    clock = ManualClock(START)
    with Cluster(_config(2), clock) as cluster:
        assert set(cluster.registries()) == {"edge", *(f"{r}-{i}" for r in REGIONS
                                                       for i in (0, 1))}
        prev = _snapshot(cluster, clock)
        served = _serve_hour(cluster, clock)
        clock.advance(60)
        cur = _snapshot(cluster, clock)
        for region in REGIONS:
            per_instance = [
                cluster.registries()[f"{region}-{i}"].get_sample_value(
                    "ion_cpu_seconds_total", {"region": region}) or 0.0
                for i in (0, 1)]
            assert all(v > 0 for v in per_instance), (region, per_instance)  # both served
        values = {mid: m.derive(prev, cur) for mid, m in RECORDED.items()}
    with Cluster(_config(1), ManualClock(START)) as single:
        single_clock = single.clock
        assert isinstance(single_clock, ManualClock)
        prev1 = _snapshot(single, single_clock)
        assert _serve_hour(single, single_clock) == served
        single_clock.advance(60)
        cur1 = _snapshot(single, single_clock)
        values1 = {mid: m.derive(prev1, cur1) for mid, m in RECORDED.items()}
    # The same per-region aggregates: every series has a value with either layout.
    assert {k for k, v in values.items() if v is not None} == \
        {k for k, v in values1.items() if v is not None}
    assert values["regions_up"] == values1["regions_up"] == 3
    # Requests are counted once whichever instance served them.
    for region in REGIONS:
        assert values[f"requests_{region}"] == pytest.approx(values1[f"requests_{region}"])
    assert values["request_rate"] == pytest.approx(values1["request_rate"])


def test_an_instance_down_is_its_own_target_down() -> None:
    clock = ManualClock(START)
    with Cluster(_config(2), clock) as cluster:
        cluster.set_instance_up("eu-1", False)
        assert "eu-1" not in cluster.registries()
        assert cluster.region_up("eu")
        for _ in range(4):  # the edge passes the instance over
            assert cluster.request("eu", "GET", "/v2/health").status < 500
        collector = RegistryCollector("eu-1", lambda: cluster.registries().get("eu-1"), clock)
        result = TargetLabels(collector, {"target": "eu", "instance": "eu-1"}).collect()
        up = [s for s in result.samples if s.name == "up"]
        assert [(s.labels, s.value) for s in up] == [({"target": "eu", "instance": "eu-1"}, 0.0)]
        snap = _snapshot(cluster, clock)
        assert get("regions_up").derive(snap, snap) == 3  # eu still answers through eu-0
        cluster.set_region_up("eu", False)
        assert cluster.request("eu", "GET", "/v2/health").status == 503
        snap = _snapshot(cluster, clock)
        assert get("regions_up").derive(snap, snap) == 2
        with pytest.raises(ValueError, match="unknown instance"):
            cluster.set_instance_up("eu-7", False)


def test_instances_of_the_primary_write_to_one_database_without_clashing_ids() -> None:
    clock = ManualClock(START)  # the clock stands still: the ids differ by instance alone
    with Cluster(_config(2), clock) as cluster:
        codes = [cluster.request("us", "POST", "/v2/feedback",
                                 body(user_id="u1", persona_id="coach", rating=4)).status
                 for _ in range(4)]  # round robin: us-0, us-1, us-0, us-1
        assert codes == [200] * 4
        rows = cluster.regions["us"].db.query(
            "count", "SELECT COUNT(*) FROM analytics WHERE user_id = 'u1'")
        assert rows[0][0] >= 4
