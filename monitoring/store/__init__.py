"""Time-series storage behind one small protocol (see ``base``)."""

from monitoring.store.base import (
    Point,
    Series,
    Store,
    StoreCorrupt,
    StoreError,
    StoreFull,
    WriteResult,
)

__all__ = ["Point", "Series", "Store", "StoreCorrupt", "StoreError", "StoreFull", "WriteResult"]
