import pytest

from monitoring import catalog


def test_catalog_has_25_unique_metrics_in_known_groups():
    assert len(catalog.CATALOG) == 25
    assert sum(len(v) for v in catalog.by_group().values()) == 25
    for metric in catalog.CATALOG.values():
        assert metric.group in catalog.GROUPS
        assert metric.promql()  # every metric has PromQL


def test_unknown_metric_names_the_known_ones():
    with pytest.raises(KeyError, match="latency_p95"):
        catalog.get("latency_p96")


def test_bad_unit_is_rejected_at_construction():
    base = catalog.get("latency_p95")
    with pytest.raises(ValueError, match="unknown unit"):
        catalog.Metric("x", "X", "furlongs", "latency", "down", base.expr, "x")


def test_target_semantics():
    assert catalog.Target("<", 50).met(49.9)
    assert not catalog.Target("<", 50).met(50)
    assert catalog.Target(">=", 99.95).met(99.95)
