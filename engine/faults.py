"""Real faults injected into a running cluster; ``start``/``stop`` are idempotent.

kind            target          effect
l1_flush        region          the region's L1 is emptied (instantaneous; stop is a no-op)
l2_down         region | "all"  the region's L2 client cannot reach L2 (errors counted)
index_dropped   region          DROP INDEX on the region's database; stop re-creates it
builder_errors  [region/]builder  a fraction (``rate``, default 0.5) of its calls raise;
                                region from the target, ``region=`` or all regions
replica_lag     replica region  the replica stops applying replicated writes
region_down     region          the region stops answering; the edge returns 503
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.builders import BUILDER_NAMES
from engine.db.schema import HISTORY_INDEX


class RegionInstance(Protocol):
    """What a fault reaches in a region (``engine.region.RegionInstance``); a protocol,
    so the cluster can own a controller without the two modules importing each other."""

    cache: Any
    db: Any
    builder_faults: Any
    replication: Any

    def tick(self) -> None: ...


class Cluster(Protocol):
    @property
    def regions(self) -> Mapping[str, RegionInstance]: ...

    def set_region_up(self, name: str, up: bool) -> None: ...

FAULT_KINDS: tuple[str, ...] = ("l1_flush", "l2_down", "index_dropped", "builder_errors",
                                "replica_lag", "region_down")


@dataclass(frozen=True)
class ActiveFault:
    kind: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)


class FaultController:
    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._active: dict[tuple[str, str], ActiveFault] = {}

    def active(self) -> list[ActiveFault]:
        return list(self._active.values())

    def is_active(self, kind: str, target: str) -> bool:
        return (kind, target) in self._active

    def start(self, kind: str, target: str, **params: Any) -> ActiveFault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {FAULT_KINDS}")
        key = (kind, target)
        if key in self._active:
            return self._active[key]
        getattr(self, f"_start_{kind}")(target, params)
        fault = ActiveFault(kind, target, dict(params))
        self._active[key] = fault
        return fault

    def stop(self, kind: str, target: str) -> None:
        fault = self._active.pop((kind, target), None)
        if fault is not None:
            getattr(self, f"_stop_{kind}")(target, fault.params)

    def stop_all(self) -> None:
        for fault in list(self._active.values()):
            self.stop(fault.kind, fault.target)

    # -- targets -------------------------------------------------------------
    def _region(self, target: str) -> RegionInstance:
        try:
            return self._cluster.regions[target]
        except KeyError:
            raise ValueError(f"unknown region {target!r}") from None

    def _regions(self, target: str) -> list[RegionInstance]:
        if target == "all":
            return list(self._cluster.regions.values())
        return [self._region(target)]

    # -- kinds ---------------------------------------------------------------
    def _start_l1_flush(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.cache.flush_l1()

    def _stop_l1_flush(self, target: str, params: dict[str, Any]) -> None:
        pass  # a flush has no undo; the cache refills from traffic

    def _start_l2_down(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.cache.l2.set_reachable(False)

    def _stop_l2_down(self, target: str, params: dict[str, Any]) -> None:
        for region in self._regions(target):
            region.cache.l2.set_reachable(True)

    def _start_index_dropped(self, target: str, params: dict[str, Any]) -> None:
        params.setdefault("index", HISTORY_INDEX)
        self._region(target).db.drop_index(params["index"])

    def _stop_index_dropped(self, target: str, params: dict[str, Any]) -> None:
        self._region(target).db.create_index(params["index"])

    def _builder_target(self, target: str,
                        params: dict[str, Any]) -> tuple[str, list[RegionInstance]]:
        # "analyst" (region from params, default all) or "us/analyst".
        region, _, builder = target.rpartition("/")
        if builder not in BUILDER_NAMES:
            raise ValueError(f"unknown builder {builder!r}; known: {BUILDER_NAMES}")
        return builder, self._regions(region or params.get("region", "all"))

    def _start_builder_errors(self, target: str, params: dict[str, Any]) -> None:
        params.setdefault("rate", 0.5)
        builder, regions = self._builder_target(target, params)
        for region in regions:
            region.builder_faults.set_rate(builder, float(params["rate"]))

    def _stop_builder_errors(self, target: str, params: dict[str, Any]) -> None:
        builder, regions = self._builder_target(target, params)
        for region in regions:
            region.builder_faults.set_rate(builder, 0.0)

    def _start_replica_lag(self, target: str, params: dict[str, Any]) -> None:
        region = self._region(target)
        if region.replication is None:
            raise ValueError(f"region {target!r} is not a replica")
        region.replication.paused = True

    def _stop_replica_lag(self, target: str, params: dict[str, Any]) -> None:
        region = self._region(target)
        assert region.replication is not None
        region.replication.paused = False
        region.tick()

    def _start_region_down(self, target: str, params: dict[str, Any]) -> None:
        self._cluster.set_region_up(target, False)

    def _stop_region_down(self, target: str, params: dict[str, Any]) -> None:
        self._cluster.set_region_up(target, True)
