import math

import pytest

from collectors.base import Sample
from monitoring.expr import (
    Agg,
    Div,
    HistogramQuantile,
    Rate,
    Scale,
    Selector,
    Snapshot,
    bucket_quantile,
    m,
)


def snap(ts, rows):
    return Snapshot(ts, [Sample(n, labels, v, ts) for n, labels, v in rows])


def test_rate_is_increase_per_second_and_handles_reset():
    prev = snap(0, [("c_total", {"r": "a"}, 10), ("c_total", {"r": "b"}, 50)])
    cur = snap(60, [("c_total", {"r": "a"}, 70), ("c_total", {"r": "b"}, 6)])
    out = Rate(Selector("c_total")).evaluate(prev, cur)
    assert out[(("r", "a"),)] == pytest.approx(1.0)
    assert out[(("r", "b"),)] == pytest.approx(0.1)  # reset: counts from zero


def test_ratio_of_sums_with_regex_matcher():
    prev = snap(0, [("req", {"code": "200"}, 0), ("req", {"code": "503"}, 0)])
    cur = snap(10, [("req", {"code": "200"}, 99), ("req", {"code": "503"}, 1)])
    errors = Agg("sum", Rate(Selector("req", (m("code", "=~", "5.."),))))
    total = Agg("sum", Rate(Selector("req")))
    expr = Scale(Div(errors, total), 100)
    assert expr.evaluate(prev, cur) == {(): pytest.approx(1.0)}
    assert expr.promql("5m") == (
        '((sum (rate(req{code=~"5.."}[5m]))) / (sum (rate(req[5m])))) * 100'
    )


def test_division_by_zero_is_nan_not_an_error():
    prev = snap(0, [("x", {}, 0), ("y", {}, 0)])
    cur = snap(10, [("x", {}, 0), ("y", {}, 0)])
    out = Div(Rate(Selector("x")), Rate(Selector("y"))).evaluate(prev, cur)
    assert math.isnan(out[()])


def test_bucket_quantile_matches_prometheus_interpolation():
    # 100 observations: 50 in (0, 0.1], 40 in (0.1, 0.2], 10 in (0.2, +Inf)
    buckets = [(0.1, 50), (0.2, 90), (math.inf, 100)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.1)
    assert bucket_quantile(0.7, buckets) == pytest.approx(0.15)
    assert bucket_quantile(0.95, buckets) == pytest.approx(0.2)  # +Inf bucket: lower bound
    assert math.isnan(bucket_quantile(0.5, [(0.1, 0), (math.inf, 0)]))


def test_histogram_quantile_over_scrapes():
    def hist(ts, counts):
        return snap(ts, [("h_bucket", {"le": le, "region": r}, c)
                         for r in ("us", "eu") for le, c in zip(("0.1", "0.2", "+Inf"), counts,
                                                              strict=True)])
    prev = hist(0, (0, 0, 0))
    cur = hist(60, (50, 90, 100))
    q = HistogramQuantile(0.7, Selector("h"))
    assert q.evaluate(prev, cur)[()] == pytest.approx(0.15)
    assert q.promql("1m") == 'histogram_quantile(0.7, sum by (le) (rate(h_bucket[1m])))'
