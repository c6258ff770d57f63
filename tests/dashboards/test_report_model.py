"""The report model knows, for every fault kind the engine can inject, which catalog
metrics it moves (so an incident shows its effect instead of "no samples")."""

from dashboards.report.model import FAULT_METRICS
from engine.faults import FAULT_KINDS
from monitoring.catalog import CATALOG, REGIONS


def test_every_fault_kind_names_catalog_metrics_it_moves() -> None:
    assert set(FAULT_METRICS) == set(FAULT_KINDS)
    for kind, ids in FAULT_METRICS.items():
        # Per-region ids resolve for the regions the fault can target (replicas only
        # for replica_lag), so at least one region must name catalog metrics.
        resolved = {m.format(region=region) for m in ids for region in REGIONS}
        assert resolved & set(CATALOG), (kind, sorted(resolved))
