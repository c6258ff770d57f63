"""One region of the service: its own registry, cache, database, pipeline and API."""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from engine.api.dispatcher import Api
from engine.api.response import Response
from engine.builders import BuilderFactory, ErrorInjector
from engine.cache.l1 import LruTtlCache
from engine.cache.l2 import SharedCache
from engine.cache.tiered import TieredCache
from engine.clock import Clock
from engine.config import EngineConfig, RegionConfig
from engine.db.database import Database
from engine.db.dialects import Dialect, PostgresDialect, SqliteDialect
from engine.db.replication import ReplicationQueue, Writer
from engine.db.seed import SeedData
from engine.instruments import make_instruments
from engine.network import NetworkModel
from engine.pipeline import Pipeline
from engine.service import Service


def make_dialect(config: EngineConfig, region: str, tmp_dir: str) -> Dialect:
    db = config.database
    if db.backend == "postgres":
        return PostgresDialect(db.postgres_dsn, f"{db.postgres_schema_prefix}{region}")
    if db.sqlite_path is None:
        return SqliteDialect(os.path.join(tmp_dir, f"{region}.db"), remove_on_destroy=True)
    root, ext = os.path.splitext(db.sqlite_path)
    return SqliteDialect(f"{root}-{region}{ext or '.db'}", remove_on_destroy=False)


class RegionInstance:
    def __init__(self, name: str, region: RegionConfig, config: EngineConfig, clock: Clock,
                 l2: SharedCache, writer: Writer, seed: SeedData, tmp_dir: str,
                 index: int, target: str | None = None, ordinal: int = 0,
                 db: Database | None = None) -> None:
        """``target`` names this instance as a scrape target (the region's name by
        default); instances of a region after the first share its database (``db``)
        and take their own ``ordinal`` for their random streams."""
        self.name = name
        self.target = target or name
        self.config = region
        self.up = True
        # Never the global REGISTRY: every region is scraped as its own target.
        self.registry = CollectorRegistry()
        self.instruments = make_instruments(self.registry, name,
                                            enabled=config.metrics_enabled,
                                            slow_query_ms=config.database.slow_query_ms)
        self._owns_db = db is None
        if db is None:
            db = Database(make_dialect(config, name, tmp_dir), config.database.pool_size,
                          config.database.pool_timeout_s, self.instruments)
            db.create(seed)
        self.db = db
        self.cache = TieredCache(LruTtlCache(config.cache.l1_max_items, config.cache.l1_ttl_s),
                                 l2, clock, self.instruments)
        stream = index + 1000 * ordinal
        self.builder_faults = ErrorInjector(config.seed * 7919 + stream)
        self.pipeline = Pipeline(BuilderFactory(self.builder_faults), self.instruments)
        self.service = Service(name, region.role, self.cache, self.db, writer, self.pipeline,
                               clock, self.target)
        self.network = NetworkModel(region.network_delay_ms, region.network_jitter_ms,
                                    config.seed * 104729 + stream)
        self.api = Api(self.service, self.instruments, self.network, config.http.max_body_bytes)
        self.replication: ReplicationQueue | None = None
        self.instruments.watch_replication_lag(self.replication_lag)

    @property
    def role(self) -> str:
        return self.config.role

    def attach_replication(self, queue: ReplicationQueue) -> None:
        self.replication = queue

    def replication_lag(self) -> float:
        return self.replication.lag() if self.replication is not None else 0.0

    def tick(self) -> None:
        if self.replication is not None and self.up:
            self.replication.apply_due()

    def handle(self, method: str, path: str, headers: Mapping[str, str] | None = None,
               body: bytes = b"") -> Response:
        if self.replication is not None:
            self.replication.apply_due()  # a replica replays before it reads
        return self.api.handle(method, path, headers, body)

    def close(self) -> None:
        self.cache.l2.close()
        if self._owns_db:
            self.db.close()
