"""The store config.yaml names, opened for a command or a job."""

from __future__ import annotations

from monitoring.app.config import Config
from monitoring.store import factory
from monitoring.store.base import Store


def open_store(config: Config) -> Store:
    return factory.open_store(config.store, config.scrape)
