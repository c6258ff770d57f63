"""The report model knows, for every fault kind the engine can inject, which catalog
metrics it moves (so an incident shows its effect instead of "no samples")."""

from dashboards.report.model import FAULT_METRICS
from engine.faults import FAULT_KINDS
from monitoring.catalog import CATALOG, REGIONS


def test_every_fault_kind_names_catalog_metrics_it_moves() -> None:
    assert set(FAULT_METRICS) == set(FAULT_KINDS)
    for kind, ids in FAULT_METRICS.items():
        for region in REGIONS:
            resolved = [m.format(region=region) for m in ids]
            assert any(m in CATALOG for m in resolved), (kind, region, resolved)
