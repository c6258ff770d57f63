"""Typed engine configuration; ``EngineConfig()`` is a working default."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegionConfig(_Strict):
    role: Literal["primary", "replica"]
    # Modelled quantities: the only numbers in the engine that are not measured.
    network_delay_ms: float = Field(ge=0)
    network_jitter_ms: float = Field(default=0.0, ge=0)
    replication_delay_ms: float = Field(default=0.0, ge=0)
    utc_offset_h: int = 0
    traffic_share: float = Field(default=1.0, gt=0)
    # Instances behind the edge, each scraped as its own target.
    instances: int = Field(default=1, ge=1, le=1000)


def instance_names(region: str, instances: int) -> list[str]:
    """The scrape targets of a region: the region's name for one instance, else
    ``<region>-<i>`` for each (Prometheus would tell them apart by ``instance``)."""
    return [region] if instances == 1 else [f"{region}-{i}" for i in range(instances)]


def _default_regions() -> dict[str, RegionConfig]:
    return {
        "us": RegionConfig(role="primary", network_delay_ms=8, network_jitter_ms=2,
                           utc_offset_h=-5, traffic_share=0.45),
        "eu": RegionConfig(role="replica", network_delay_ms=24, network_jitter_ms=4,
                           replication_delay_ms=40, utc_offset_h=1, traffic_share=0.35),
        "asia": RegionConfig(role="replica", network_delay_ms=33, network_jitter_ms=5,
                             replication_delay_ms=55, utc_offset_h=8, traffic_share=0.20),
    }


class CacheConfig(_Strict):
    l1_max_items: int = Field(default=512, ge=1)
    l1_ttl_s: float = Field(default=300.0, gt=0)
    l2: Literal["memory", "redis"] = "memory"
    # A typo'd URL must fail at startup, not as L2 errors at the first request.
    l2_url: str = Field(default="redis://127.0.0.1:6379/0", pattern=r"^(rediss?|unix)://.+")
    l2_ttl_s: float = Field(default=3600.0, gt=0)
    l2_key_prefix: str = "ion:"


class DatabaseConfig(_Strict):
    backend: Literal["sqlite", "postgres"] = "sqlite"
    # None: one temporary file per region, removed on close.
    sqlite_path: str | None = None
    postgres_dsn: str = Field(default="postgresql://postgres@127.0.0.1:5432/postgres",
                              pattern=r"^postgres(ql)?://.+")
    # Each region gets its own schema in the PostgreSQL database.
    postgres_schema_prefix: str = "ion_"
    pool_size: int = Field(default=5, ge=1)
    pool_timeout_s: float = Field(default=5.0, gt=0)
    slow_query_ms: float = Field(default=5.0, gt=0)
    # Sized so that a user-history lookup costs ~0.02 ms with its index and ~7 ms
    # as a scan once the index is dropped (SQLite; see the engine tests).
    seed_rows: int = Field(default=25_000, ge=100)
    seed_users: int = Field(default=5_000, ge=10)


class HttpConfig(_Strict):
    host: str = "127.0.0.1"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)


class TrafficConfig(_Strict):
    peak_requests_per_minute: float = Field(default=60.0, gt=0)
    users: int = Field(default=2_000, ge=10)
    # Zipf exponents: a few users and messages come back often, most rarely.
    user_skew: float = Field(default=1.4, gt=0)
    message_skew: float = Field(default=1.2, gt=0)
    weekend_factor: float = Field(default=0.6, gt=0, le=1)
    night_factor: float = Field(default=0.15, gt=0, le=1)


class EngineConfig(_Strict):
    regions: dict[str, RegionConfig] = Field(default_factory=_default_regions)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    metrics_enabled: bool = True
    seed: int = 42

    @model_validator(mode="after")
    def _one_primary(self) -> EngineConfig:
        primaries = [n for n, r in self.regions.items() if r.role == "primary"]
        if len(primaries) != 1:
            raise ValueError(f"exactly one primary region expected, got {primaries}")
        if "edge" in self.regions:
            raise ValueError("'edge' is reserved for the global front door")
        targets = [t for n, r in self.regions.items() for t in instance_names(n, r.instances)]
        clash = sorted({t for t in targets if targets.count(t) > 1})
        if clash:
            raise ValueError(f"instance target names clash with region names: {clash}")
        return self

    def instance_regions(self) -> dict[str, str]:
        """Every region instance's target name -> its region."""
        return {target: name for name, r in self.regions.items()
                for target in instance_names(name, r.instances)}

    @property
    def primary(self) -> str:
        return next(n for n, r in self.regions.items() if r.role == "primary")
