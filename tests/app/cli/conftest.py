"""A synthetic week in an embedded store, with its faults, for the CLI's tests."""

import pytest

from monitoring.groundtruth import FaultLog
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.synth import week


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ionmon")
    ts, values, faults = week()
    store = SQLiteStore(d / "data" / "ionmon.db")
    for i in range(0, len(ts), 1440):
        store.write(Point(m, float(t), float(v[j])) for m, v in values.items()
                    for j, t in enumerate(ts[i:i + 1440], start=i))
    store.close()
    log = FaultLog(d / "data" / "ionmon.db")
    for f in faults:
        log.record(f)
    log.close()
    (d / "config.yaml").write_text(f"store: {{path: {d / 'data' / 'ionmon.db'}}}\n")
    return d, ts
