"""The global front door: forwards each request to its region, 503 when it is down.

The edge registry also carries the process and platform collectors, so process
metrics exist exactly once however many regions run in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from engine.api.response import Response, error_response
from engine.instruments import TallyCounter
from engine.region import RegionInstance


class Edge:
    def __init__(self, regions: Mapping[str, RegionInstance], *, metrics_enabled: bool) -> None:
        self._regions = regions
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._enabled = metrics_enabled
        self._requests = TallyCounter("ion_edge_requests", "Requests through the edge",
                                      ("region", "code"), self.registry)
        self._children: dict[tuple[str, int], Callable[[], object]] = {}

    def forward(self, region: str, method: str, path: str,
                headers: Mapping[str, str] | None = None, body: bytes = b"") -> Response:
        target = self._regions.get(region)
        if target is None:
            resp, region = error_response(404, f"unknown region {region!r}"), "unknown"
        elif not target.up:
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
