"""The backfill loop stores what it stored before it was made faster."""

from __future__ import annotations

import json
from pathlib import Path

from tests.app.backfill_series import backfill_series

FIXTURE = Path(__file__).parent / "fixtures" / "backfill_untimed_series.json"


def test_a_short_backfill_stores_the_recorded_untimed_series(tmp_path: Path) -> None:
    # Recorded from the per-scrape, single-process backfill loop (with the derivation
    # of young and returning series as Prometheus rate() reads them).
    recorded = json.loads(FIXTURE.read_text())
    stored = backfill_series(tmp_path)
    assert sorted(stored) == sorted(recorded)
    for metric_id, points in recorded.items():
        assert stored[metric_id] == points, metric_id
