from __future__ import annotations

import numpy as np

from renderers.charts import _path, nice_ticks, sparkline, time_ticks


def test_nice_ticks_cover_the_range() -> None:
    ticks = nice_ticks(3.2, 97.0)
    assert ticks[0] <= 3.2 and ticks[-1] >= 97.0 and ticks == [0, 25, 50, 75, 100]
    assert nice_ticks(3, 3)[0] < 3 < nice_ticks(3, 3)[-1]
    assert nice_ticks(99.95, 99.99)[0] <= 99.95


def test_time_ticks_label_days_at_midnight() -> None:
    labels = [label for _, label in time_ticks(1_794_960_000, 1_794_960_000 + 86400)]
    assert "00:00" not in labels and any(lbl[:3] in ("Mon", "Tue", "Wed") for lbl in labels)


def test_path_breaks_at_gaps() -> None:
    d = _path(np.array([0.0, 1, 2, 3]), np.array([1.0, np.nan, 2, 3]))
    assert d == "M0.0,1.0M2.0,2.0L3.0,3.0"


def test_sparkline() -> None:
    assert sparkline(np.arange(8.0), 8) == "▁▂▃▄▅▆▇█"
    assert sparkline(np.array([np.nan, 1.0]), 2) == " ▁"
    assert len(sparkline(np.arange(1000.0), 20)) == 20
