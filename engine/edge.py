"""The global front door: forwards each request to its region, 503 when it is down.

A region of several instances gets its requests in turn (round robin), an instance
that is down passed over; the region is down when all of them are.

The edge registry also carries the process and platform collectors, so process
metrics exist exactly once however many regions run in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import count

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from engine.api.response import Response, error_response
from engine.instruments import TallyCounter
from engine.region import RegionInstance


class Edge:
    def __init__(self, regions: Mapping[str, Sequence[RegionInstance]], *,
                 metrics_enabled: bool) -> None:
        self._regions = regions
        self._turns = {name: count() for name in regions}
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._enabled = metrics_enabled
        self._requests = TallyCounter("ion_edge_requests", "Requests through the edge",
                                      ("region", "code"), self.registry)
        self._children: dict[tuple[str, int], Callable[[], object]] = {}

    def forward(self, region: str, method: str, path: str,
                headers: Mapping[str, str] | None = None, body: bytes = b"") -> Response:
        instances = self._regions.get(region)
        target = None if instances is None else self._pick(region, instances)
        if instances is None:
            resp, region = error_response(404, f"unknown region {region!r}"), "unknown"
        elif target is None:
            resp = error_response(503, f"region {region} unavailable")
        else:
            resp = target.handle(method, path, headers, body)
        if self._enabled:
            key = (region, resp.status)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._requests.child(region, str(resp.status))
            child()
        return resp

    def _pick(self, region: str, instances: Sequence[RegionInstance]) -> RegionInstance | None:
        """The region's next instance that is up, None when all are down."""
        if len(instances) == 1:
            return instances[0] if instances[0].up else None
        turn = next(self._turns[region])
        for i in range(len(instances)):
            instance = instances[(turn + i) % len(instances)]
            if instance.up:
                return instance
        return None
