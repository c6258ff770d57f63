"""Time-series storage behind one small protocol (see ``base``)."""

from monitoring.store.base import OutOfOrderSample, Point, Series, Store, StoreError

__all__ = ["OutOfOrderSample", "Point", "Series", "Store", "StoreError"]
