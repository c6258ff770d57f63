"""Open the store that config.yaml names."""

from __future__ import annotations

from monitoring.config import Config
from monitoring.store.base import Store
from monitoring.store.sqlite import SQLiteStore


def open_store(config: Config) -> Store:
    if config.store.backend == "sqlite":
        return SQLiteStore(config.store.path, retention_s=config.store.retention,
                           future_tolerance_s=config.store.future_tolerance,
                           seal_grace_s=config.store.seal_grace)
    if config.store.backend == "prometheus":
        from monitoring.store.prometheus import PrometheusStore

        return PrometheusStore.from_config(config)
    raise NotImplementedError(f"store backend {config.store.backend!r} is not available yet")
