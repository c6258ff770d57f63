"""Collectors turn a target into samples: ``collect() -> ScrapeResult``."""

from collectors.base import Collector, Sample, ScrapeResult
from collectors.exposition import ExpositionCollector, ExpositionError, parse_exposition
from collectors.host import HostCollector
from collectors.postgres import PostgresCollector
from collectors.redis_info import RedisCollector
from collectors.registry import RegistryCollector
from collectors.sqlite_stats import SQLiteCollector

__all__ = [
    "Collector",
    "ExpositionCollector",
    "ExpositionError",
    "HostCollector",
    "PostgresCollector",
    "RedisCollector",
    "RegistryCollector",
    "SQLiteCollector",
    "Sample",
    "ScrapeResult",
    "parse_exposition",
]
