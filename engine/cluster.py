"""Three regions, a shared L2, replication from the primary, and the edge in front.

A region runs ``instances`` copies of the service (its own registry, ``/metrics``, L1,
pipeline and API each) over the region's one database; ``regions`` holds each region's
first instance, ``instances`` all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from engine.api.response import Response, error_response
from engine.cache.l2 import MemoryL2, MemoryStore, RedisL2, SharedCache
from engine.clock import Clock, WallClock
from engine.config import EngineConfig, instance_names
from engine.db.replication import ReplicationQueue, Writer
from engine.db.seed import build_seed
from engine.edge import Edge
from engine.faults import FaultController
from engine.http_server import HttpServer
from engine.region import RegionInstance
from engine.workdir import WorkDir

EDGE = "edge"


class Cluster:
    def __init__(self, config: EngineConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or EngineConfig()
        self.clock: Clock = clock or WallClock()
        cfg = self.config
        self._workdir = WorkDir()  # also removes those left by a killed run
        self._tmp_dir = self._workdir.path
        self._memory_l2 = MemoryStore(self.clock)
        self._servers: dict[str, HttpServer] = {}
        self._ticker: threading.Thread | None = None
        self._ticker_stop = threading.Event()
        seed = build_seed(cfg.database.seed_rows, cfg.database.seed_users, self.clock.now(),
                          cfg.seed)
        self.regions: dict[str, RegionInstance] = {}
        self.instances: dict[str, list[RegionInstance]] = {}
        self._targets: dict[str, RegionInstance] = {}
        self.writer = Writer(self.clock, lambda: self.region_up(cfg.primary))
        try:
            for index, (name, rc) in enumerate(cfg.regions.items()):
                group = self.instances[name] = []
                for ordinal, target in enumerate(instance_names(name, rc.instances)):
                    instance = RegionInstance(
                        name, rc, cfg, self.clock, self._make_l2(), self.writer, seed,
                        self._tmp_dir, index, target, ordinal,
                        db=group[0].db if group else None)
                    group.append(instance)
                    self._targets[target] = instance
                self.regions[name] = group[0]
        except BaseException:
            self.close()
            raise
        self.writer.attach_primary(self.regions[cfg.primary].db)
        for name, region in self.regions.items():
            if region.role == "replica":
                queue = ReplicationQueue(region.db, cfg.regions[name].replication_delay_ms
                                         / 1000.0, self.clock)
                self.writer.queues.append(queue)
                for instance in self.instances[name]:
                    instance.attach_replication(queue)
        self.edge = Edge(self.instances, metrics_enabled=cfg.metrics_enabled)
        self.faults = FaultController(self)

    def _make_l2(self) -> SharedCache:
        c = self.config.cache
        if c.l2 == "redis":
            return RedisL2(c.l2_url, c.l2_ttl_s, self.clock, c.l2_key_prefix)
        return MemoryL2(self._memory_l2, c.l2_ttl_s)

    # -- requests ------------------------------------------------------------
    def request(self, region: str, method: str, path: str, body: bytes = b"",
                headers: Mapping[str, str] | None = None) -> Response:
        """In-process request through the edge: the HTTP code path minus the socket."""
        return self.edge.forward(region, method, path, headers, body)

    def tick(self) -> None:
        """Bring time-driven work (replication) up to ``clock.now()``."""
        for region in self.regions.values():
            region.tick()  # the region's replication, shared by its instances
        self.faults.tick()

    # -- metrics -------------------------------------------------------------
    def registries(self) -> dict[str, CollectorRegistry]:
        """Scrapable registries by target; an instance that is down is left out."""
        out = {EDGE: self.edge.registry}
        out.update({t: i.registry for t, i in self._targets.items() if i.up})
        return out

    def is_up(self, target: str) -> bool:
        return target == EDGE or self._targets[target].up

    def region_up(self, name: str) -> bool:
        """A region is up while any of its instances is."""
        return any(instance.up for instance in self.instances[name])

    def set_region_up(self, name: str, up: bool) -> None:
        for instance in self.instances[name]:
            self.set_instance_up(instance.target, up)

    def set_instance_up(self, target: str, up: bool) -> None:
        """One instance down (or back): its ``/metrics`` stops answering, the edge
        sends its region's requests to the others."""
        try:
            instance = self._targets[target]
        except KeyError:
            raise ValueError(f"unknown instance {target!r}; known: {list(self._targets)}"
                             ) from None
        instance.up = up
        server = self._servers.get(target)
        if server is not None:
            # Down means down: the port stops answering, /metrics included.
            if up:
                server.start()
            else:
                server.stop()

    # -- HTTP ----------------------------------------------------------------
    def _edge_dispatch(self, method: str, path: str, headers: dict[str, str],
                       body: bytes) -> Response:
        # /<region>/v2/... -> that region's API.
        region, _, rest = path.lstrip("/").partition("/")
        if region not in self.regions:
            return error_response(404, "path must start with a region: /<region>/v2/...")
        return self.edge.forward(region, method, "/" + rest, headers, body)

    def start_http(self) -> dict[str, str]:
        """Serve each region and the edge on its own loopback port: target -> base URL."""
        host, max_body = self.config.http.host, self.config.http.max_body_bytes
        if not self._servers:
            self._servers[EDGE] = HttpServer(host, self._edge_dispatch, self.edge.registry,
                                             max_body)
            for target, instance in self._targets.items():
                self._servers[target] = HttpServer(host, instance.handle, instance.registry,
                                                   max_body)
        for name, server in self._servers.items():
            if self.is_up(name):
                server.start()
        if self._ticker is None:
            self._ticker_stop.clear()
            self._ticker = threading.Thread(target=self._tick_loop, name="ion-ticker",
                                            daemon=True)
            self._ticker.start()
        return {name: server.url for name, server in self._servers.items()}

    def _tick_loop(self) -> None:
        # Live runs: replicas catch up even when no request reaches them.
        while not self._ticker_stop.wait(0.05):
            self.tick()

    def stop_http(self) -> None:
        self._ticker_stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        for server in self._servers.values():
            server.stop()

    def close(self) -> None:
        self.stop_http()
        for group in self.instances.values():
            for instance in reversed(group):  # the first owns the database
                instance.close()
        self._workdir.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
