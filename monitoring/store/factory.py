"""Open the store a ``store:`` section names, on the scrape section's grid."""

from __future__ import annotations

from monitoring.config import ScrapeConfig, StoreConfig
from monitoring.store.base import Store
from monitoring.store.prometheus import PrometheusStore
from monitoring.store.sqlite import SQLiteStore


def open_store(store: StoreConfig, scrape: ScrapeConfig) -> Store:
    if store.backend == "sqlite":
        return SQLiteStore(store.path, retention_s=store.retention,
                           future_tolerance_s=store.future_tolerance,
                           seal_grace_s=store.seal_grace)
    if store.backend == "prometheus":
        return PrometheusStore.from_sections(store, scrape)
    raise NotImplementedError(f"store backend {store.backend!r} is not available yet")
