"""The store config.yaml names, opened for a command or a job."""

from __future__ import annotations

from monitoring.app.config import Config
from monitoring.groundtruth import FaultRecord, open_faultlog
from monitoring.store import factory
from monitoring.store.base import Store


def open_store(config: Config) -> Store:
    return factory.open_store(config.store, config.scrape)


def recorded_faults(config: Config, start: float, end: float) -> list[FaultRecord]:
    """The injected faults the store's fault log holds over [start, end] (none without one)."""
    log = open_faultlog(config.store.path)
    if log is None:
        return []
    try:
        return log.between(start, end)
    finally:
        log.close()
