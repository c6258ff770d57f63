"""A synthetic week in an embedded store, with its faults, for the CLI's tests."""

from dataclasses import replace

import numpy as np
import pytest

from monitoring.groundtruth import FaultLog
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.synth import week


def write_week(path, seed: int = 7, shift: float = 0.0) -> np.ndarray:
    """A synthetic week (``seed``), ``shift`` seconds later, and its faults, into ``path``."""
    ts, values, faults = week(seed=seed)
    ts = ts + shift
    store = SQLiteStore(path)
    for i in range(0, len(ts), 1440):
        store.write(Point(m, float(t), float(v[j])) for m, v in values.items()
                    for j, t in enumerate(ts[i:i + 1440], start=i))
    store.close()
    log = FaultLog(path)
    for f in faults:
        log.record(replace(f, start=f.start + shift, end=f.end + shift))
    log.close()
    return ts


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ionmon")
    ts = write_week(d / "data" / "ionmon.db")
    (d / "config.yaml").write_text(f"store: {{path: {d / 'data' / 'ionmon.db'}}}\n")
    return d, ts
