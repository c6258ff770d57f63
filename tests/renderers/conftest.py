"""Dashboard data rendered by every renderer test: synthetic history, hostile labels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.alertview import AlertView
from dashboards.data import DashboardData, load_dashboard_data
from dashboards.definitions import DASHBOARDS
from dashboards.model import Dashboard, Panel, Row
from monitoring.store.sqlite import SQLiteStore
from tests.dashboards.synth import END, make_store

EVIL = "<script>alert(1)</script> | `rm -rf` **persona** [x](http://e.vil)"
START = END - 86400


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    s = make_store(tmp_path_factory.mktemp("store") / "s.db", days=1)
    yield s
    s.close()


@pytest.fixture(scope="session")
def alerts() -> list[AlertView]:
    return [
        AlertView(f"Persona {EVIL}", "critical", "firing", END - 3000, f"summary {EVIL}",
                  metric="latency_p95"),
        AlertView("L2HitRateLow", "warning", "resolved", END - 7200, "L2 hit rate under 60%"),
    ]


@pytest.fixture(scope="session")
def all_data(store: SQLiteStore, alerts: list[AlertView]) -> dict[str, DashboardData]:
    return {name: load_dashboard_data(d, store, START, END, alerts=alerts)
            for name, d in DASHBOARDS.items()}


@pytest.fixture(scope="session")
def evil_data(store: SQLiteStore, alerts: list[AlertView]) -> DashboardData:
    """Every free-text field carries markup that must render inert."""
    dash = Dashboard("evil", f"Title {EVIL}", f"Description {EVIL}", (
        Row(f"Row {EVIL}", (
            Panel(f"Stat {EVIL}", "stat", ("latency_p95",)),
            Panel(f"Chart {EVIL}", "timeseries", ("latency_p95", "latency_p99"), width=5),
            Panel(f"Table {EVIL}", "table", ("error_rate",), width=5,
                  description=f"Table description {EVIL}"),
        )),
        Row("Alerts", (Panel(f"Alerts {EVIL}", "alerts", alert_states=("firing", "resolved"),
                             width=12),)),
    ))
    return load_dashboard_data(dash, store, START, END, alerts=alerts)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path
